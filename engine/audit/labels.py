"""What the audit log's codes are called (the administrators' page, the CSV export): every action that calls
`audit`, the keys of the details shown, and the kinds of broken link. Pages translate them when they render."""

from __future__ import annotations

from engine.i18n import _l

# Action code → label, in the order the page's filter lists them (tests/engine/test_audit_log.py checks that
# every `audit(…)` call in engine/ names one of these).
ACTION_LABELS = {
    # the electronic archive and the windows' rating tablets
    "archive_download": _l("下载电子档案"),
    "archive_requested": _l("申请重新归档"),
    "rating_device_created": _l("登记评价设备"),
    "rating_device_paired": _l("评价设备配对"),
    "rating_device_revoked": _l("停用评价设备"),
    "suggestion_answered": _l("答复意见簿"),
    # signing in and accounts
    "login": _l("登录"),
    "login_failed": _l("登录失败"),
    "account_locked": _l("账户被锁定"),
    "login_refused_locked": _l("锁定期间尝试登录"),
    "user_created": _l("创建用户"),
    "user_changed": _l("修改用户"),
    "user_disabled": _l("停用用户"),
    "user_enabled": _l("启用用户"),
    "password_reset": _l("重置密码"),
    "password_changed": _l("修改密码"),
    "users_imported": _l("批量导入用户"),
    "session_expired": _l("闲置超时退出"),
    "token_revoked": _l("吊销单个接口令牌"),
    "tasks_bulk_assigned": _l("批量指派任务"),
    "tasks_bulk_released": _l("批量退回任务"),
    "token_created": _l("签发接口令牌"),
    "tokens_revoked": _l("吊销接口令牌"),
    "demo_data_loaded": _l("加载演示数据"),
    # personal data and files
    "unmask": _l("查看完整个人信息"),
    "case_export": _l("导出案件"),
    "attachment_download": _l("下载申请材料"),
    "query_code_issued": _l("重新生成查询码"),
    "supplement_attached": _l("代申请人上传补正材料"),
    # administrators on cases
    "case_suspended": _l("挂起案件"),
    "case_resumed": _l("恢复案件"),
    "case_terminated": _l("终止案件"),
    "task_retried": _l("重试出错步骤"),
    "case_migrated": _l("迁移案件版本"),
    "task_reassigned": _l("改派任务"),
    "notification_retry": _l("重发失败通知"),
    # processes, catalog, content, organisations
    "deploy_definition": _l("部署流程"),
    "deploy_despite_samples": _l("样例未通过仍部署流程"),
    "matter_changed": _l("修改事项清单"),
    "content_created": _l("新建门户内容"),
    "content_edited": _l("编辑门户内容"),
    "content_published": _l("发布门户内容"),
    "content_withdrawn": _l("撤下门户内容"),
    "content_restored": _l("恢复门户内容的历史版本"),
    "notice_withdrawn": _l("撤回救助公示"),
    "org_window_changed": _l("修改机构窗口信息"),
    "org_created": _l("新建机构"),
    "org_changed": _l("修改机构"),
    "org_deactivated": _l("停用机构"),
    "org_reactivated": _l("启用机构"),
    # the audit log itself
    "audit_exported": _l("导出审计日志"),
    "audit_pruned": _l("清理过期审计日志"),
    # backup and restore
    "backup_created": _l("备份系统数据"),
    "backup_restored": _l("从备份恢复系统数据"),
}

# Keys of an entry's details, named on the page (others are shown as they are).
DETAIL_LABELS = {
    "reason": _l("原因"), "comment": _l("说明"), "count": _l("数量"), "rows": _l("条数"), "files": _l("文件数"),
    "org": _l("机构"), "roles": _l("角色"), "users": _l("新建用户数"), "revision": _l("版本"),
    "attachment": _l("材料编号"), "notice_id": _l("公示编号"), "changes": _l("修改内容"), "filters": _l("筛选条件"),
    "filename": _l("文件"), "to": _l("迁移到版本"), "assignee": _l("办理人"), "task": _l("任务"),
    "retention_days": _l("保存天数"), "before": _l("早于"),
    "directory": _l("备份目录"), "counts": _l("数量统计"), "backup_created_at": _l("备份时间"),
    "format": _l("格式"), "complete": _l("完整送出"), "masked": _l("已脱敏"), "export": _l("导出格式"),
}

PROBLEM_LABELS = {"altered": _l("记录被修改"), "deleted": _l("记录被删除"), "inserted": _l("记录被插入"),
                  "reordered": _l("记录顺序被调换"), "head_missing": _l("链头记录缺失")}


def action_label(code: str) -> str:
    """The label of an action code (the code itself when it has none)."""
    return ACTION_LABELS.get(code, code)
