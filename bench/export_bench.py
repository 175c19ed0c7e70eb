"""What exporting the case query costs (R-6.4.2): rows per second and peak memory of a CSV and an XLSX
export (`CaseEngine.exports`) of 200,000 cases against the same export of 20,000 — the baseline, measured in
the same run on the same database — so that a ratio near 1.0 of the memory shows it does not grow with rows.

A fresh database (SQLite file, or the given PostgreSQL database emptied) is migrated, the demo county and the
matter catalog loaded, and `--rows` cases seeded in bulk through SQLAlchemy Core (not the engine, for
speed): an application, its process instance and one task of a department each, a tenth of them green
channel, ended or overdue. The last `--baseline` cases are registered on and after one local day, so the
baseline is the same export with `date_from` that day. Each export runs in a subprocess of its own (this
script with `--child`), as center1, writing the file to disk; its peak memory is the growth of the process's
peak resident set (VmHWM, reset before the export) over its resident set before (engine and openpyxl loaded).

Usage: python bench/export_bench.py [--quick] [--database-url URL] [--rows N] [--baseline N]
The last line printed is `summary: name=value …`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bench.scheduler_bench import empty_database  # noqa: E402
from engine import clock, db, schema, status, tables  # noqa: E402
from engine.cases.case_query import local_day_start  # noqa: E402
from engine.cases.runtime import CaseEngine  # noqa: E402
from engine.settings import Settings  # noqa: E402

BATCH = 5000
DEPARTMENTS = ("minzheng", "yibao", "jiaoyu")
MATTERS = (["linshi"], ["yiliao", "linshi"], ["dibao"])
FORMATS = ("csv", "xlsx")


def settings_for(url: str, tmp: Path) -> Settings:
    return Settings.from_environ(DATABASE_URL=url, INSTANCE_DIR=str(tmp), PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")


def seed(url: str, rows: int, baseline: int) -> datetime:
    """`rows` cases in bulk; the last `baseline` of them registered on and after the day returned."""
    day = local_day_start((clock.now() - timedelta(days=1)).astimezone(clock.LOCAL_TZ).date())
    now = clock.now()
    with db.get_engine(url).begin() as conn:
        definition = conn.execute(insert(tables.DEFINITION).values(
            key=status.LINKAGE_PROCESS, version=1, name="bench", xml="<bench/>", checksum="0" * 64,
            deployed_by="bench", deployed_at=now).returning(tables.DEFINITION.c.id)).scalar_one()
        for start in range(0, rows, BATCH):
            applications, instances, tasks, groups = [], [], [], []
            for n in range(start, min(rows, start + BATCH)):
                case_no = f"SJB{n:09d}"
                early = rows - baseline
                at = (day - timedelta(seconds=30 * (early - n)) if n < early
                      else day + timedelta(seconds=(n - early) * 2))
                ended = n % 10 == 3
                applications.append({
                    "case_no": case_no, "channel": "window", "level": "village", "green_channel": n % 10 == 0,
                    "applicant_name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
                    "township": "T01", "village": "T01V01", "address": "示范县城东街道东湖社区 1 号",
                    "request": f"因病致贫，申请医疗救助和临时救助（{n}）", "matters": MATTERS[n % 3], "situation": {},
                    "created_at": at, "registered_by": "clerk_v", "registered_org": "T01V01"})
                instances.append({"id": n + 1, "definition_id": definition, "case_no": case_no,
                                  "status": status.CLOSED_COMPLETED if ended else status.OPEN, "state": "{}",
                                  "serializer_version": "bench", "started_at": at,
                                  "ended_at": at + timedelta(days=5) if ended else None, "lock_version": 1})
                task_id = str(uuid.UUID(int=n + 1))
                department = DEPARTMENTS[n % len(DEPARTMENTS)]
                tasks.append({"id": task_id, "instance_id": n + 1, "case_no": case_no, "task_spec": "accept",
                              "name": "部门受理", "form_key": "accept", "candidate_groups": [department],
                              "context": {}, "state": status.COMPLETED if ended else status.READY, "created_at": at,
                              "due_at": at + timedelta(days=3), "completed_by": "mz1" if ended else None,
                              "completed_at": at + timedelta(days=4 if n % 20 == 3 else 2) if ended else None})
                groups.append({"task_id": task_id, "group_code": department})
            conn.execute(insert(tables.APPLICATION), applications)
            conn.execute(insert(tables.INSTANCE), instances)
            conn.execute(insert(tables.TASK), tasks)
            conn.execute(insert(tables.TASK_GROUP), groups)
    return day


def prepared(url: str | None, tmp: Path, rows: int, baseline: int) -> tuple[str, datetime]:
    url = empty_database(url, tmp / "export-bench.db")
    schema.upgrade(url)
    engine = CaseEngine(settings_for(url, tmp))
    engine.accounts.load_demo_data()
    engine.catalog.ensure_seeded()
    return url, seed(url, rows, baseline)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> int:
    """Reset the process's peak resident set (Linux: /proc/self/clear_refs) and return the resident set now
    (kB); elsewhere the peak so far (ru_maxrss), which then hides an export's peak below the start-up's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak() -> int:
    try:
        return _status_kb("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(url: str, tmp: Path, fmt: str, args: dict[str, str]) -> None:
    """One export, measured in this process; prints one JSON line."""
    import openpyxl  # noqa: F401  # loaded before the measure, as a server has it loaded

    engine = CaseEngine(settings_for(url, tmp))
    who = engine.accounts.principal_named("center1")
    assert who is not None
    with db.transaction(engine.sessions, read_only=True) as session:
        session.execute(select(tables.ORGS.c.code)).all()
    before = _reset_peak()
    began = time.perf_counter()
    export = engine.exports.export(who, args, fmt)
    out = tmp / f"export.{fmt}"
    with open(out, "wb") as target:
        for chunk in export:
            target.write(chunk)
    seconds = time.perf_counter() - began
    after = _peak()
    print(json.dumps({"rows": export.rows, "seconds": seconds, "peak_kb": after - before, "rss_kb": after,
                      "bytes": out.stat().st_size}))


def run_child(url: str, tmp: Path, fmt: str, args: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", "--database-url", url, "--tmp", str(tmp), "--format", fmt,
               "--args", json.dumps(args)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ, timeout=3600)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--baseline", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="csv", help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.database_url, Path(options.tmp), options.format, json.loads(options.args))
        return
    rows, baseline = (20_000, 2_000) if options.quick else (options.rows, options.baseline)
    backend = "postgresql" if options.database_url else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        url, day = prepared(options.database_url, Path(tmp), rows, baseline)
        print(f"{backend}: seeded {rows} cases in {time.perf_counter() - began:.1f} s; baseline {baseline} "
              f"(registered from {day.date().isoformat()})")
        figures: dict[str, float] = {}
        for fmt in FORMATS:
            small = run_child(url, Path(tmp), fmt, {"date_from": day.date().isoformat()})
            large = run_child(url, Path(tmp), fmt, {})
            assert small["rows"] == baseline and large["rows"] == rows, (small, large)
            for name, found in (("base", small), ("full", large)):
                rate = found["rows"] / found["seconds"]
                print(f"  {fmt:4} {found['rows']:7} rows  {found['seconds']:7.2f} s  {rate:8.0f} rows/s  "
                      f"peak +{found['peak_kb'] / 1024:6.1f} MiB (rss {found['rss_kb'] / 1024:6.1f} MiB)  "
                      f"file {found['bytes'] / 1024 / 1024:6.1f} MiB")
                figures[f"{backend}_{fmt}_{name}_rows_per_s"] = rate
                figures[f"{backend}_{fmt}_{name}_peak_mib"] = found["peak_kb"] / 1024
            # the full export's peak growth against the baseline's (1.0: the same); 1 MiB added to each so that
            # a few pages more or less of a near-zero growth do not make a large ratio
            ratio = (large["peak_kb"] + 1024) / (small["peak_kb"] + 1024)
            figures[f"{backend}_{fmt}_memory_ratio"] = ratio
            print(f"  {fmt:4} peak memory {rows} vs {baseline} rows: ratio {ratio:.2f}")
    print("summary: " + " ".join(f"{name}={value:.2f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
