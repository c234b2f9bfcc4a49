"""Several processes on one SQLite file: exactly one winner per nonce, no lost audit event,
and a fresh database migrated once when processes start together."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from openleash.store.migrate import available

from . import _workers

PROCESSES = 4
NONCES = [f"nonce-{n:03d}" for n in range(200)]
DEADLINE_SECONDS = 20


def _run_all(
    target: Callable[..., None], args: Callable[[int, Any, Any], tuple[Any, ...]]
) -> dict[int, Any]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=args(w, start, out)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    try:
        results = dict(out.get(timeout=DEADLINE_SECONDS) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    for worker, result in results.items():
        assert not isinstance(result, str), f"worker {worker} failed:\n{result}"
    return results


def test_each_nonce_is_won_exactly_once_across_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "openleash.db")
    results = _run_all(_workers.claim_nonces, lambda w, start, out: (db, w, NONCES, start, out))
    wins = Counter(n for won in results.values() for n in won)
    assert wins == Counter(NONCES), "every nonce won once, by exactly one process"
    with closing(sqlite3.connect(db)) as conn:
        ids = [row[0] for row in conn.execute("SELECT event_id FROM audit_events")]
        won_events = conn.execute(
            "SELECT count(*) FROM audit_events WHERE event_type = 'NONCE_WON'"
        ).fetchone()[0]
    assert len(ids) == PROCESSES * len(NONCES)
    assert set(ids) == {f"{w}:{n}" for w in range(PROCESSES) for n in NONCES}
    assert won_events == len(NONCES)


def test_processes_opening_a_fresh_database_together_migrate_it_once(tmp_path: Path) -> None:
    db = str(tmp_path / "fresh" / "openleash.db")
    results = _run_all(_workers.open_fresh, lambda w, start, out: (db, w, start, out))
    assert set(results.values()) == {0}
    with closing(sqlite3.connect(db)) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == [m.version for m in available()]
    assert mode == "wal"
