"""What one audited action costs: a sign-in (its `login` entry in the audit log) and a bare audited
transaction, against a write transaction that audits nothing, on a log that already holds rows.

A fresh database (SQLite file, or the given PostgreSQL database emptied) is migrated, the demo county
loaded (passwords hashed with a cheap pbkdf2, so the database's part is what shows) and the audit log
filled with `--rows` entries. Then, interleaved, each measure is run `--repeat` times: `sign_in`
(`Accounts.sign_in`: the user read, the failure count reset, the `login` entry, the commit),
`audit_tx` (one transaction that only calls `audit`) and `empty_tx` (one write transaction that
only reads one row: the baseline). Medians and p95 in ms. Run it on two trees (before and after a
change) to compare them.

Usage: python bench/audit_bench.py [--quick] [--database-url URL] [--rows N] [--repeat N]
The last line printed is `summary: name=value …` (medians in ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.scheduler_bench import empty_database  # noqa: E402
from engine import clock, db, schema, tables  # noqa: E402
from engine.access.accounts import audit  # noqa: E402
from engine.cases.runtime import CaseEngine  # noqa: E402
from engine.settings import Settings  # noqa: E402

PASSWORD = "Demo@2026"


def prepared(url: str | None, tmp: Path, rows: int) -> CaseEngine:
    """A migrated database with the demo county and `rows` audit entries written through `audit`."""
    url = empty_database(url, tmp / "audit-bench.db")
    schema.upgrade(url)
    settings = Settings.from_environ(DATABASE_URL=url, INSTANCE_DIR=str(tmp),
                                     PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")
    engine = CaseEngine(settings)
    engine.accounts.load_demo_data()
    now = clock.now()
    for start in range(0, rows, 1000):
        with db.transaction(engine.sessions) as session:
            for n in range(start, min(rows, start + 1000)):
                audit(session, f"user{n % 50}", "login", now, None, n=n)
    return engine


def timed(run: Callable[[], object]) -> float:
    """Milliseconds one call of `run` takes."""
    began = time.perf_counter()
    run()
    return (time.perf_counter() - began) * 1000


def measures(engine: CaseEngine) -> dict[str, Callable[[], object]]:
    """The three measured actions on `engine`'s database."""
    sessions = engine.sessions

    def sign_in() -> object:
        principal, error = engine.accounts.sign_in("center1", PASSWORD)
        assert principal is not None, error
        return principal

    def audit_tx() -> None:
        with db.transaction(sessions) as session:
            audit(session, "bench", "unmask", clock.now(), "SJ-bench", reason="bench")

    def empty_tx() -> None:
        with db.transaction(sessions) as session:
            session.execute(select(tables.USERS.c.id).limit(1)).all()

    return {"sign_in": sign_in, "audit_tx": audit_tx, "empty_tx": empty_tx}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows, repeat = (1000, 60) if args.quick else (args.rows, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        engine = prepared(args.database_url, Path(tmp), rows)
        runs = measures(engine)
        for run in runs.values():  # warm the pool and the statement caches
            for _ in range(5):
                run()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeat):
            for name, run in runs.items():
                times[name].append(timed(run))
    backend = "postgresql" if args.database_url else "sqlite"
    print(f"{backend}: {rows} audit rows before, {repeat} runs of each (ms)")
    figures = {}
    for name, values in times.items():
        median = statistics.median(values)
        p95 = sorted(values)[int(len(values) * 0.95) - 1]
        figures[name] = median
        print(f"  {name:9} median {median:6.3f}  p95 {p95:6.3f}")
    print(f"  audit adds to an empty write transaction: {figures['audit_tx'] - figures['empty_tx']:.3f} ms")
    print("summary: " + " ".join(f"{backend}_{name}_ms={value:.3f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
