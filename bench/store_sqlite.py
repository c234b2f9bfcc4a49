"""Micro benchmarks of the SQLite store.

    PYTHONPATH=src python bench/store_sqlite.py write      # one process: tx latency, revision()
    PYTHONPATH=src python bench/store_sqlite.py writers    # N processes at a fixed rate each
    PYTHONPATH=src python bench/store_sqlite.py audit      # page() over 1,000,000 events

The write transaction is the one of every authorization: ``use_nonce`` + ``append`` of one event.
Files go to a scratch folder under /tmp (``--dir``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import shutil
import tempfile
import time
import uuid
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from openleash.domain.models import AuditEvent
from openleash.store.sql import queries, rows
from openleash.store.sql.sqlite import SqliteStore

TTL_MS = 600_000


def _event(owner: str, agent: str, n: int = 0) -> AuditEvent:
    meta = {
        "decision_id": str(uuid.uuid4()),
        "result": "ALLOW",
        "matched_rule_id": "r1",
        "owner_type": "user",
        "owner_id": owner,
        "agent_principal_id": agent,
        "action_type": "purchase",
        "reason": "matched rule r1",
        "policy_ids": ["p1"],
        "payload": {"amount": 12.5, "currency": "EUR", "merchant": "shop.example"},
    }
    ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(1_767_225_600 + n))  # 2026-01-01 + n s
    return AuditEvent(str(uuid.uuid4()), ts, "DECISION_CREATED", agent, None, None, meta)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


# -- one process ------------------------------------------------------------------------------


async def _write(folder: Path, count: int) -> None:
    store = SqliteStore.open(folder / "write.db")
    now = int(time.time() * 1000)
    nonces = [uuid.uuid4().hex for _ in range(count)]
    events = [_event("user-1", "ap-1") for _ in range(count)]
    latencies = []
    start = time.perf_counter()
    for nonce, event in zip(nonces, events, strict=True):
        t = time.perf_counter()
        async with store.transaction() as tx:
            await tx.use_nonce("agent-a", nonce, now, now + TTL_MS)
            await tx.append([event])
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    print(
        f"write tx (use_nonce + append 1): {elapsed / count * 1e6:.0f} µs/op mean, "
        f"p50 {_pct(latencies, 0.5) * 1e6:.0f} µs, p99 {_pct(latencies, 0.99) * 1e6:.0f} µs, "
        f"max {_ms(max(latencies))}"
    )
    start = time.perf_counter()
    for _ in range(count):
        await store.revision()
    print(f"revision(): {(time.perf_counter() - start) / count * 1e6:.2f} µs/op")
    await store.close()


# -- several processes ------------------------------------------------------------------------


def _writer(
    path: str, worker: int, rate: float, seconds: float, ckpt: float, go: Barrier, out: Queue[Any]
) -> None:
    out.put(asyncio.run(_paced(Path(path), worker, rate, seconds, ckpt, go)))


async def _paced(
    path: Path, worker: int, rate: float, seconds: float, ckpt: float, go: Barrier
) -> Any:
    store = SqliteStore.open(path, checkpoint_interval=ckpt or None)
    event = _event(f"user-{worker}", f"ap-{worker}")
    now = int(time.time() * 1000)
    count = int(rate * seconds)
    latencies, services = [], []
    go.wait()
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t = time.perf_counter()
        async with store.transaction() as tx:
            await tx.use_nonce(f"agent-{worker}", uuid.uuid4().hex, now, now + TTL_MS)
            await tx.append([event])
        done = time.perf_counter()
        latencies.append(done - max(due, start))  # from the moment it was due: includes waiting
        services.append(done - t)
    elapsed = time.perf_counter() - start
    await store.close()
    return latencies, services, elapsed


def _writers(folder: Path, processes: int, rate: float, seconds: float, ckpt: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Barrier(processes), ctx.Queue()
    path = str(folder / "writers.db")
    asyncio.run(SqliteStore.open(Path(path)).close())  # migrate once, outside the measurement
    procs = [
        ctx.Process(target=_writer, args=(path, w, rate, seconds, ckpt, go, out))
        for w in range(processes)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for r in results for x in r[0]]
    services = [x for r in results for x in r[1]]
    achieved = len(latencies) / max(r[2] for r in results)
    print(
        f"{processes} processes x {rate:.0f} tx/s: {achieved:.0f} tx/s; "
        f"latency from due time p50 {_ms(_pct(latencies, 0.5))}, "
        f"p99 {_ms(_pct(latencies, 0.99))}, max {_ms(max(latencies))}; "
        f"inside the store p50 {_ms(_pct(services, 0.5))}, p99 {_ms(_pct(services, 0.99))}"
    )


# -- audit pages over a large log -------------------------------------------------------------


def _fill(store: SqliteStore, count: int) -> None:
    rnd = random.Random(1)

    def params() -> Any:
        for n in range(count):
            owner = rnd.randrange(100)
            agent = owner * 10 + rnd.randrange(10)
            yield rows.event_params(_event(f"user-{owner}", f"ap-{agent}", n))

    conn = store._conn
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(queries.APPEND_EVENT, params())
    conn.execute("COMMIT")


async def _audit(folder: Path, count: int) -> None:
    store = SqliteStore.open(folder / "audit.db")
    start = time.perf_counter()
    _fill(store, count)
    print(f"filled {count} events in {time.perf_counter() - start:.1f} s")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("all, newest page", {}),
        ("all, page in the middle", {"before_seq": count // 2}),
        ("owner (1% of events)", {"filters": {"owner_id": "user-7"}}),
        ("owner, deep cursor", {"before_seq": count // 10, "filters": {"owner_id": "user-7"}}),
        ("agent (0.1%)", {"filters": {"agent_principal_id": "ap-77"}}),
        ("owner + since", {"filters": {"owner_id": "user-7", "since": "2026-01-10T00:00:00.000Z"}}),
        ("event_type (unindexed: the total scans)", {"filters": {"event_type": "NONE"}}),
    ]
    for label, kwargs in cases:
        times = []
        for _ in range(10):
            t = time.perf_counter()
            async with store.transaction() as tx:
                items, total = await tx.page(limit=50, **kwargs)
            times.append(time.perf_counter() - t)
        print(
            f"page(50) {label}: median {_ms(_pct(times, 0.5))} ({len(items)} items, total {total})"
        )
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["write", "writers", "audit"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1000.0, help="tx/s per process")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--checkpoint-interval", type=float, default=0.1, help="0: SQLite checkpoints in commits"
    )
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="openleash-bench-"))
    try:
        if args.what == "write":
            asyncio.run(_write(folder, args.count or 20_000))
        elif args.what == "writers":
            _writers(folder, args.processes, args.rate, args.seconds, args.checkpoint_interval)
        else:
            asyncio.run(_audit(folder, args.count or 1_000_000))
    finally:
        if args.dir is None:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
