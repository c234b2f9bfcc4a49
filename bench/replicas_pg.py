"""Throughput of several OpenLeash replicas over one PostgreSQL database.

What it does: creates a fresh PostgreSQL database, runs ``openleash init`` against it, starts
``--replicas`` servers (``openleash start --workers W`` each, on their own ports, all with
``OPENLEASH_DATABASE_URL`` pointing at that database), signs every request beforehand (each with
its own nonce; the same agent, so all replicas share its budgets and audit chain), and runs one
wrk per replica at the same time, ``--connections`` split between them. It then checks that the
audit log gained one record per answered request, and drops the database.

Reported: the sum of the replicas' requests per second, and the highest p50/p90/p99 of any
replica (percentiles of two runs cannot be merged exactly; the highest is an upper bound).

    .venv/bin/python bench/replicas_pg.py                       # 2 replicas, 1 worker each
    .venv/bin/python bench/replicas_pg.py --workers 2 --limits  # under a spend and count limit

Needs wrk (apt-get install -y wrk) and a PostgreSQL server (``--postgres``, default
postgresql://postgres@127.0.0.1:5432/postgres, a role that may create databases).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import authorize_wrk as base  # the single-server benchmark's pieces

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--postgres", default=DEFAULT_ADMIN_URL, help="server to create the DB on")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="worker processes per replica")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16, help="in all, split evenly")
    parser.add_argument("--limits", action="store_true", help="a spend and a count limit")
    parser.add_argument("--rate", type=int, default=4_000, help="requests signed per second")
    parser.add_argument("--wait-idle", type=float, default=0.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args(argv)


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _max_seq(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM audit_events"))
    finally:
        await conn.close()


def database_url(admin_url: str, name: str) -> str:
    head, _, _ = admin_url.rpartition("/")
    return f"{head}/{name}"


class Replica(base.Server):
    """``openleash start`` over the shared database."""

    def __init__(self, workdir: Path, port: int, workers: int, db_url: str) -> None:
        original = base.server_env

        def with_database() -> dict[str, str]:
            env = original()
            env["OPENLEASH_DATABASE_URL"] = db_url
            return env

        base.server_env = with_database
        try:
            folder = workdir / f"replica-{port}"
            folder.mkdir()
            (folder / "data").mkdir()
            super().__init__(folder, port, workers)
        finally:
            base.server_env = original
        if workers == 1:
            self.workers = 0  # one worker runs in the main process: no worker to wait for


def run_all(replicas: list[Replica], prefixes: list[Path], args: argparse.Namespace, seconds: int):
    per = max(1, args.connections // len(replicas))
    procs = []
    for replica, prefix in zip(replicas, prefixes, strict=True):
        command = [
            "wrk",
            "-t1",
            f"-c{per}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(base.LUA_SCRIPT),
            replica.url,
            "--",
            str(prefix),
            "1",
        ]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    cpu_before = sum(r.cpu_seconds() for r in replicas)
    started = time.monotonic()
    outputs = [proc.communicate()[0] for proc in procs]
    wall = time.monotonic() - started
    cpu = sum(r.cpu_seconds() for r in replicas) - cpu_before
    results = []
    for output in outputs:
        line = next((x for x in output.splitlines() if x.startswith("BENCH_RESULT ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{output}")
        results.append(base._parse_result(line))
    return results, wall, cpu


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    sys.path.insert(0, str(base.SRC))
    name = f"openleash_bench_{uuid.uuid4().hex[:8]}"
    db_url = database_url(args.postgres, name)
    asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{name}"'))
    workdir = Path(tempfile.mkdtemp(prefix="openleash-replicas-"))
    replicas: list[Replica] = []
    report: dict[str, Any] = {"machine": base.machine_description(), "args": vars(args).copy()}
    report["args"]["json"] = str(args.json)
    try:
        original = base.server_env

        def with_database() -> dict[str, str]:
            env = original()
            env["OPENLEASH_DATABASE_URL"] = db_url
            return env

        base.server_env = with_database
        credentials = base.init_store(workdir)
        if args.limits:
            base.use_limits_policy(workdir)
        base.server_env = original
        for _ in range(args.replicas):
            replicas.append(Replica(workdir, base.free_port(), args.workers, db_url))
        for replica in replicas:
            replica.wait_ready()
        check = base.check_one(replicas[-1], credentials)
        print(f"check request through the last replica: {check['result']}, proof verified")
        if args.wait_idle:
            base.wait_for_idle(replicas[0], args.wait_idle)
        total = (args.duration + args.warmup) * args.rate
        estimate = total * base.SIGN_SECONDS / (os.cpu_count() or 1) + 1
        stamp = base.iso_at(time.time() + estimate + (args.warmup + args.duration) / 2)
        share = total // len(replicas) + 1
        pools = base.sign_pools(
            credentials, "127.0.0.1", stamp, {str(i): share for i in range(len(replicas))}
        )
        prefixes = []
        for i, requests in pools.items():
            prefix = workdir / f"pool-{i}"
            warm = args.warmup * args.rate // len(replicas)
            base.write_pool(prefix.with_name(f"warm-{i}"), requests[:warm], 1)
            base.write_pool(prefix, requests[warm:], 1)
            prefixes.append(prefix)
        del pools
        if args.warmup:
            warm_prefixes = [p.with_name(p.name.replace("pool-", "warm-")) for p in prefixes]
            run_all(replicas, warm_prefixes, args, args.warmup)
        before = asyncio.run(_max_seq(db_url))
        results, _wall, cpu = run_all(replicas, prefixes, args, args.duration)
        after = asyncio.run(_max_seq(db_url))
    finally:
        for replica in replicas:
            replica.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    requests = sum(r["requests"] for r in results)
    seconds = max(r["duration_us"] for r in results) / 1e6
    rate = requests / seconds
    worst = {p: max(r[p] for r in results) / 1000 for p in ("p50", "p90", "p99", "p999")}
    ok = sum(r["statuses"].get("200", 0) for r in results)
    allowed = sum(r["allow_with_proof"] for r in results)
    problems = []
    if ok != requests or allowed != requests:
        problems.append(f"{requests - allowed} of {requests} not ALLOW with a proof")
    if after - before < ok:
        problems.append("fewer audit records than 200 answers")
    if any(r["exhausted"] for r in results):
        problems.append("the signed request pool ran out: raise --rate")
    print(
        f"authorizations/s : {rate:,.0f} over {len(replicas)} replicas x {args.workers} workers, "
        f"{args.connections} connections ({requests:,} requests in {seconds:.1f} s)"
    )
    print("latency (ms), worst replica: " + "  ".join(f"{p} {v:.2f}" for p, v in worst.items()))
    for i, r in enumerate(results):
        print(
            f"  replica {i}: {r['requests'] / (r['duration_us'] / 1e6):,.0f}/s, "
            f"p50 {r['p50'] / 1000:.2f} p99 {r['p99'] / 1000:.2f} ms, non-200 {r['non200']}"
        )
    print(
        f"server CPU per request: {1e6 * cpu / max(1, requests):.0f} µs; audit +{after - before:,}"
    )
    report["result"] = {
        "requests_per_second": rate,
        "worst_percentiles_ms": worst,
        "replicas": results,
        "server_cpu_per_request_us": 1e6 * cpu / max(1, requests),
        "problems": problems,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if problems:
        print("INVALID RUN: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
