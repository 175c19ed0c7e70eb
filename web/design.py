"""Process design pages (流程设计) for process designers and administrators.

The modeler (bpmn-js with the Camunda properties panel, bundled by `make setup`) edits a
deployed version as a draft in the browser. The server validates drafts with exactly the
deploy checks plus reachability (`engine.design.check_draft`), runs the repository's sample
cases against a draft without touching real cases, deploys a draft as version N+1 with a
comment (audited), lists versions with a diff between any two, serves any version's BPMN for
download, and takes files saved by the Camunda desktop modeler as uploads.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from engine.bpmn import design
from engine.bpmn.design import check_draft, diff_definitions, load_samples, run_samples, summarise_diff
from engine.bpmn.elements import executable_processes
from engine.bpmn.loader import BpmnRejected, Problem, parse_safely
from engine.cases.runtime import PROCESS_KEY
from engine.errors import EngineError
from engine.i18n import _l
from engine.models import ProcessDefinition
from web.services import case_engine, require_role, transaction

bp = Blueprint("design", __name__, url_prefix="/design")
DESIGNERS = ("designer", "admin")
MAX_BPMN_BYTES = 2 * 1024 * 1024
MAX_COMMENT = 500
SAMPLE_STATUS = {"passed": _l("符合预期"), "failed": _l("不符合预期"), "stuck": _l("停在人工环节"),
                 "error": _l("运行出错")}


def _designer() -> Any:
    return require_role(*DESIGNERS)


def _versions(key: str) -> list[ProcessDefinition]:
    """Every version of `key`, newest first; 404 when the process was never deployed."""
    with transaction() as session:
        rows = list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                    .order_by(ProcessDefinition.version.desc())))
        for row in rows:
            session.expunge(row)
    if not rows:
        abort(404)
    return rows


def _version_xml(key: str, version: int) -> str:
    with transaction() as session:
        xml = session.scalar(select(ProcessDefinition.xml).where(ProcessDefinition.key == key,
                                                                 ProcessDefinition.version == version))
    if xml is None:
        abort(404)
    return str(xml)


def _draft_from_json() -> tuple[bytes, dict[str, Any]]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str) or not body["xml"].strip():
        abort(make_response(jsonify({"error": "invalid", "message": _("请求中没有流程图 XML")}), 400))
    xml = body["xml"].encode("utf-8")
    if len(xml) > MAX_BPMN_BYTES:
        abort(make_response(jsonify({"error": "invalid", "message": _("流程图文件超过 2 MB")}), 413))
    return xml, body


def _key_problems(xml: bytes, key: str, filename: str) -> list[dict[str, Any]]:
    """A draft of another process is refused here; unreadable XML is left to the checks to report."""
    try:
        tree = parse_safely(xml, filename)
    except BpmnRejected:
        return []
    found = [process.get("id") for process in executable_processes(tree)]
    if not found or found[0] == key:
        return []
    message = _("流程标识应为 %(key)s，草稿中为 %(found)s", key=key, found=found[0])
    return [Problem(filename, None, found[0], message).as_dict()]


def _problems(xml: bytes, key: str, filename: str) -> list[dict[str, Any]]:
    """Every deploy check plus reachability; a draft of another process key is refused too."""
    return [p.as_dict() for p in check_draft(xml, filename)] or _key_problems(xml, key, filename)


@bp.route("/")
@login_required
def index() -> Any:
    """The designer's start page: the linkage process's versions."""
    _designer()
    return redirect(url_for("design.versions", key=PROCESS_KEY))


@bp.route("/<key>")
@login_required
def versions(key: str) -> Any:
    """Every deployed version (who, when, comment) with download, open-in-modeler, diff and upload."""
    _designer()
    rows = _versions(key)
    return render_template("design/versions.html", key=key, versions=rows, problems=None)


@bp.route("/<key>/v<int:version>.bpmn")
@login_required
def download(key: str, version: int) -> Any:
    """Download one version's BPMN exactly as deployed."""
    _designer()
    xml = _version_xml(key, version)
    return Response(xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{key}_v{version}.bpmn"'})


@bp.route("/<key>/modeler")
@login_required
def modeler(key: str) -> Any:
    """The bpmn-js modeler on a deployed version (the newest unless ?version=N)."""
    _designer()
    rows = _versions(key)
    wanted = request.args.get("version", type=int) or rows[0].version
    if wanted not in {r.version for r in rows}:
        abort(404)
    samples_error = None
    try:
        samples = load_samples(key)
    except (design.SampleFileError, FileNotFoundError) as err:
        samples, samples_error = [], str(err)
    return render_template("design/modeler.html", key=key, version=wanted, versions=rows,
                           latest=rows[0].version, xml=_version_xml(key, wanted), samples=samples,
                           samples_error=samples_error)


@bp.route("/<key>/validate", methods=["POST"])
@login_required
def validate(key: str) -> Any:
    """Validate a draft (JSON {xml}); answer {ok, problems:[{file,line,element,message}]}."""
    _designer()
    xml, _body = _draft_from_json()
    problems = _problems(xml, key, f"{key}-draft.bpmn")
    return jsonify({"ok": not problems, "problems": problems})


@bp.route("/<key>/try", methods=["POST"])
@login_required
def try_samples(key: str) -> Any:
    """Run the repository's sample cases against a draft in memory; no real case is touched."""
    _designer()
    xml, _body = _draft_from_json()
    problems = _problems(xml, key, f"{key}-draft.bpmn")
    if problems:
        return jsonify({"ok": False, "problems": problems, "results": []}), 422
    try:
        samples = load_samples(key)
    except (design.SampleFileError, FileNotFoundError) as err:
        return jsonify({"ok": False, "problems": [], "results": [], "message": str(err)}), 500
    results = [r.as_dict() for r in run_samples(xml, samples, f"{key}-draft.bpmn")]
    for result in results:
        label = SAMPLE_STATUS.get(result["status"])
        result["status_label"] = _(label) if label else result["status"]
    return jsonify({"ok": all(r["status"] == "passed" for r in results), "problems": [], "results": results})


@bp.route("/<key>/deploy", methods=["POST"])
@login_required
def deploy(key: str) -> Any:
    """Deploy a draft (JSON {xml, comment}) as the next version; refused with its problems."""
    who = _designer()
    xml, body = _draft_from_json()
    comment = str(body.get("comment") or "").strip()
    if not comment:
        return jsonify({"ok": False, "problems": [], "message": _("请填写部署说明（本次修改了什么、为什么）")}), 422
    if len(comment) > MAX_COMMENT:
        return jsonify({"ok": False, "problems": [], "message": _("部署说明不能超过 500 字")}), 422
    outcome, status = _deploy(xml, key, f"{key}.bpmn", who.username, comment)
    return jsonify(outcome), status


def _deploy(xml: bytes, key: str, filename: str, username: str, comment: str) -> tuple[dict[str, Any], int]:
    # Deploy itself runs every check of `check_draft`; only the process key is checked here.
    problems = _key_problems(xml, key, filename)
    if problems:
        return {"ok": False, "problems": problems, "message": _("校验未通过，未部署")}, 422
    try:
        result = case_engine().deploy(xml, filename, username, comment)
    except BpmnRejected as err:
        return {"ok": False, "problems": [p.as_dict() for p in err.problems], "message": _("校验未通过，未部署")}, 422
    except EngineError as err:
        return {"ok": False, "problems": [], "message": err.message}, 409
    if not result.changed:
        return {"ok": True, "changed": False, "version": result.version,
                "message": _("草稿与版本 %(v)s 完全相同，无需部署", v=result.version)}, 200
    return {"ok": True, "changed": True, "version": result.version,
            "message": _("已部署为版本 %(v)s；新案件按此版本办理，在办案件仍按原版本", v=result.version),
            "versions_url": url_for("design.versions", key=key)}, 201


@bp.route("/<key>/upload", methods=["POST"])
@login_required
def upload(key: str) -> Any:
    """A file saved by the Camunda desktop modeler: validate only, or validate and deploy."""
    who = _designer()
    rows = _versions(key)
    file = request.files.get("file")
    comment = (request.form.get("comment") or "").strip()
    action = request.form.get("action", "validate")
    errors: list[str] = []
    xml = b""
    if file is None or not file.filename:
        errors.append(_("请选择 .bpmn 文件"))
    else:
        xml = file.read(MAX_BPMN_BYTES + 1)
        if len(xml) > MAX_BPMN_BYTES:
            errors.append(_("流程图文件超过 2 MB"))
        elif not xml.strip():
            errors.append(_("文件为空"))
    if action == "deploy" and not comment:
        errors.append(_("请填写部署说明（本次修改了什么、为什么）"))
    if len(comment) > MAX_COMMENT:
        errors.append(_("部署说明不能超过 500 字"))
    if errors:
        return render_template("design/versions.html", key=key, versions=rows, problems=None,
                               upload_errors=errors, comment=comment), 422
    filename = file.filename if file is not None and file.filename else f"{key}.bpmn"
    if action != "deploy":
        problems = _problems(xml, key, filename)
        if problems:
            return render_template("design/versions.html", key=key, versions=rows, problems=problems,
                                   comment=comment, uploaded=filename), 422
        flash(_("文件 %(f)s 校验通过，可以部署", f=filename), "success")
        return render_template("design/versions.html", key=key, versions=rows, problems=[],
                               comment=comment, uploaded=filename)
    outcome, status = _deploy(xml, key, filename, who.username, comment)
    if status >= 400:
        return render_template("design/versions.html", key=key, versions=rows, problems=outcome["problems"],
                               upload_errors=[outcome["message"]], comment=comment, uploaded=filename), status
    flash(outcome["message"], "success")
    return redirect(url_for("design.versions", key=key))


@bp.route("/<key>/diff")
@login_required
def diff(key: str) -> Any:
    """Elements added, removed and changed between two versions (names, forms, groups, conditions …)."""
    _designer()
    rows = _versions(key)
    numbers = [r.version for r in rows]
    to_version = request.args.get("to", type=int) or numbers[0]
    from_version = request.args.get("from", type=int) or (to_version - 1 if to_version - 1 in numbers else to_version)
    if from_version not in numbers or to_version not in numbers:
        abort(404)
    changes = diff_definitions(_version_xml(key, from_version).encode("utf-8"),
                               _version_xml(key, to_version).encode("utf-8"))
    return render_template("design/diff.html", key=key, versions=rows, from_version=from_version,
                           to_version=to_version, diff=changes, summary=summarise_diff(changes))
