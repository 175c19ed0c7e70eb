"""Process design pages (流程设计) for process designers and administrators.

The modeler (bpmn-js with the Camunda properties panel, bundled by `make setup`) edits a
deployed version as a draft in the browser. Everything else is `CaseEngine.design`
(`engine.bpmn.design.studio`): versions, the problems of a draft (exactly the deploy checks plus
reachability), sample runs against a draft without touching real cases, deployment as version
N+1 with a comment (audited), a diff between any two versions, and files saved by the Camunda
desktop modeler as uploads. These views parse the request, call the studio and render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.bpmn.deployment import MAX_ZIP_BYTES, DeployFile, files_of
from engine.bpmn.design import SampleFileError
from engine.bpmn.design.studio import SamplesFailed
from engine.bpmn.loader import MAX_BPMN_BYTES, BpmnRejected
from engine.cases.runtime import PROCESS_KEY
from engine.errors import EngineError, InvalidData, NotFound
from web.services import engine, require

bp = Blueprint("design", __name__, url_prefix="/design")


def _studio() -> Any:
    require("design")
    return engine().design


def _versions(key: str) -> list[Any]:
    try:
        return list(_studio().versions(key))
    except NotFound:
        abort(404)


def _version_xml(key: str, version: int) -> str:
    try:
        return str(_studio().version_xml(key, version))
    except NotFound:
        abort(404)


def _draft_from_json() -> tuple[bytes, dict[str, Any]]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str) or not body["xml"].strip():
        abort(make_response(jsonify({"error": "invalid", "message": _("请求中没有流程图 XML")}), 400))
    xml = body["xml"].encode("utf-8")
    if len(xml) > MAX_BPMN_BYTES:
        abort(make_response(jsonify({"error": "invalid", "message": _("流程图文件超过 2 MB")}), 413))
    return xml, body


def _problems(xml: bytes, key: str, filename: str) -> list[dict[str, Any]]:
    return [p.as_dict() for p in _studio().problems(xml, key, filename)]


@bp.route("/")
@login_required
def index() -> Any:
    """The designer's start page: every deployed process (the linkage flow first) and decision table."""
    found = _studio().catalogue()
    found.sort(key=lambda r: (r["kind"] != "bpmn", r["key"] != PROCESS_KEY, r["key"]))
    return render_template("design/index.html", definitions=found)


@bp.route("/<key>")
@login_required
def versions(key: str) -> Any:
    """Every deployed version (who, when, comment) with download, open-in-modeler, diff and upload."""
    return render_template("design/versions.html", key=key, versions=_versions(key), problems=None)


@bp.route("/<key>/v<int:version>.bpmn")
@login_required
def download(key: str, version: int) -> Any:
    """Download one version's BPMN exactly as deployed."""
    return Response(_version_xml(key, version), mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{key}_v{version}.bpmn"'})


@bp.route("/<key>/modeler")
@login_required
def modeler(key: str) -> Any:
    """The bpmn-js modeler on a deployed version (the newest unless ?version=N)."""
    try:
        page = _studio().modeler_page(key, request.args.get("version", type=int))
    except NotFound:
        abort(404)
    return render_template("design/modeler.html", **page)


@bp.route("/<key>/validate", methods=["POST"])
@login_required
def validate(key: str) -> Any:
    """Validate a draft (JSON {xml}); answer {ok, problems:[{file,line,element,message}]}."""
    xml, _body = _draft_from_json()
    problems = _problems(xml, key, f"{key}-draft.bpmn")
    warnings = [] if problems else [w.as_dict() for w in _studio().warnings(xml, f"{key}-draft.bpmn")]
    return jsonify({"ok": not problems, "problems": problems, "warnings": warnings})


@bp.route("/<key>/try", methods=["POST"])
@login_required
def try_samples(key: str) -> Any:
    """Run the repository's sample cases against a draft in memory; no real case is touched."""
    xml, _body = _draft_from_json()
    try:
        found = _studio().try_samples(xml, key, f"{key}-draft.bpmn")
    except BpmnRejected as err:
        return jsonify({"ok": False, "problems": [p.as_dict() for p in err.problems], "results": []}), 422
    except SampleFileError as err:
        return jsonify({"ok": False, "problems": [], "results": [], "message": str(err)}), 500
    results = _sample_results(found)
    return jsonify({"ok": all(r["status"] == "passed" for r in results), "problems": [], "results": results})


@bp.route("/<key>/deploy", methods=["POST"])
@login_required
def deploy(key: str) -> Any:
    """Deploy a draft (JSON {xml, comment}) as the next version; refused with its problems."""
    who = require("design")
    xml, body = _draft_from_json()
    outcome, status = _deploy([DeployFile(f"{key}.bpmn", xml)], key, who, str(body.get("comment") or ""),
                              body.get("despite_samples") is True, str(body.get("reason") or ""))
    return jsonify(outcome), status


def _sample_results(results: list[Any]) -> list[dict[str, Any]]:
    return [{**r.as_dict(), "status_label": _(r.as_dict()["status_label"])} for r in results]


def _deploy(files: list[DeployFile], key: str, who: Any, comment: str, despite_samples: bool = False,
            reason: str = "") -> tuple[dict[str, Any], int]:
    """Deploy one draft of `key` (the modeler, an upload) or a set of files; the answer and its status."""
    def run() -> list[Any]:
        if len(files) == 1:
            return [_studio().deploy_draft(files[0].data, key, files[0].filename, who.username, comment,
                                           despite_samples, reason)]
        return list(_studio().deploy_files(files, who.username, comment, despite_samples, reason))

    return _deploy_with(run, key, who, despite_samples)


def _deploy_with(run: Callable[[], list[Any]], key: str, who: Any,
                 despite_samples: bool) -> tuple[dict[str, Any], int]:
    """Run a deployment and answer as every design page does: refusals with problems or failing samples."""
    may_override = who.has("admin")
    if despite_samples and not may_override:
        return {"ok": False, "problems": [], "message": _("只有管理员可以越过样例部署")}, 403
    try:
        results = run()
    except InvalidData as err:
        message = "；".join(m for ms in err.errors.values() for m in ms)
        return {"ok": False, "problems": [], "message": message}, 422
    except BpmnRejected as err:
        return {"ok": False, "problems": [p.as_dict() for p in err.problems], "message": _("校验未通过，未部署")}, 422
    except SamplesFailed as err:
        return {"ok": False, "problems": [], "message": err.message, "results": _sample_results(err.results),
                "may_override": may_override}, 422
    except EngineError as err:
        return {"ok": False, "problems": [], "message": err.message}, 409
    return _deployed(results, key)


def _deployed(results: list[Any], key: str) -> tuple[dict[str, Any], int]:
    if len(results) > 1:
        changed = "、".join(f"{r.key} v{r.version}" for r in results if r.changed) or _("无变化")
        return {"ok": True, "changed": any(r.changed for r in results),
                "message": _("已部署：%(list)s", list=changed)}, 201
    result = results[0]
    if not result.changed:
        return {"ok": True, "changed": False, "version": result.version,
                "message": _("草稿与版本 %(v)s 的流程和布局相同（仅格式不同），无需部署", v=result.version)}, 200
    message = (_("已部署为版本 %(v)s（仅布局变化，流程未变）", v=result.version) if result.layout_only
               else _("已部署为版本 %(v)s；新案件按此版本办理，在办案件仍按原版本", v=result.version))
    return {"ok": True, "changed": True, "version": result.version, "layout_only": result.layout_only,
            "message": message,
            "versions_url": url_for("design.versions", key=key)}, 201


def _read_upload(comment: str, action: str) -> tuple[list[DeployFile], str, list[str]]:
    """The uploaded files (several, or a zip of them), each read up to the size limit; the refusals."""
    uploads = [f for f in request.files.getlist("file") if f and f.filename]
    errors: list[str] = []
    found: list[DeployFile] = []
    if not uploads:
        errors.append(_("请选择 .bpmn、.dmn 或 .zip 文件"))
    names = [str(u.filename) for u in uploads]
    for upload, name in zip(uploads, names, strict=True):
        limit = MAX_ZIP_BYTES if name.lower().endswith(".zip") else MAX_BPMN_BYTES
        data = upload.read(limit + 1)
        if len(data) > limit:
            errors.append(_("文件 %(f)s 过大", f=name))
        elif not data.strip():
            errors.append(_("文件 %(f)s 为空", f=name))
        else:
            try:
                found += files_of(name, data)
            except BpmnRejected as err:
                errors += [p.message for p in err.problems]
    if action == "deploy" and not comment:
        errors.append(_("请填写部署说明（本次修改了什么、为什么）"))
    return found, "、".join(names), errors


@bp.route("/<key>/upload", methods=["POST"])
@login_required
def upload(key: str) -> Any:
    """Files saved by the Camunda desktop modeler — one, several, or a zip (BPMN and DMN deployed together):
    validate only, or validate and deploy."""
    who = require("design")
    rows = _versions(key)
    comment = (request.form.get("comment") or "").strip()
    action = request.form.get("action", "validate")
    files, uploaded, errors = _read_upload(comment, action)
    uploaded = uploaded or f"{key}.bpmn"
    page = {"key": key, "versions": rows, "comment": comment, "uploaded": uploaded}
    if errors:
        return render_template("design/versions.html", problems=None, upload_errors=errors, **page), 422
    if action != "deploy":
        problems = ([p.as_dict() for p in _studio().check_files(files)] if len(files) > 1
                    else _problems(files[0].data, key, files[0].filename))
        if problems:
            return render_template("design/versions.html", problems=problems, **page), 422
        flash(_("文件 %(f)s 校验通过，可以部署", f=uploaded), "success")
        return render_template("design/versions.html", problems=[], **page)
    outcome, status = _deploy(files, key, who, comment, request.form.get("despite_samples") == "1",
                              (request.form.get("reason") or "").strip())
    if status >= 400:
        return render_template("design/versions.html", problems=outcome["problems"],
                               upload_errors=[outcome["message"]], sample_results=outcome.get("results"),
                               may_override=outcome.get("may_override", False), **page), status
    flash(outcome["message"], "success")
    return redirect(url_for("design.versions", key=key))


@bp.route("/<key>/diff")
@login_required
def diff(key: str) -> Any:
    """Elements added, removed and changed between two versions (names, forms, groups, conditions …)."""
    try:
        page = _studio().diff_page(key, request.args.get("from", type=int), request.args.get("to", type=int))
    except NotFound:
        abort(404)
    return render_template("design/diff.html", **page)


@bp.route("/decisions/<key>")
@login_required
def decision(key: str) -> Any:
    """The decision table editor (dmn-js, bundled by `make setup`): the newest version, its history and the
    processes that use it."""
    try:
        page = _studio().decision_page(key)
    except NotFound:
        abort(404)
    return render_template("design/decision.html", **page)


@bp.route("/decisions/<key>/deploy", methods=["POST"])
@login_required
def deploy_decision(key: str) -> Any:
    """Deploy an edited decision table (JSON {xml, comment}); the processes using it follow, samples gating."""
    who = require("design")
    xml, body = _draft_from_json()
    despite, reason = body.get("despite_samples") is True, str(body.get("reason") or "")
    comment = str(body.get("comment") or "")
    outcome, status = _deploy_with(lambda: _studio().deploy_decision(xml, key, who.username, comment, despite, reason),
                                   key, who, despite)
    return jsonify(outcome), status
