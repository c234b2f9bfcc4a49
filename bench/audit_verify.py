"""Time ``openleash audit verify`` over a log of 1,000,000 chained records.

    .venv/bin/python bench/audit_verify.py                    # seed 1,000,000, then verify
    .venv/bin/python bench/audit_verify.py --records 200000   # a smaller log
    .venv/bin/python bench/audit_verify.py --keep --dir /tmp/x  # keep the data folder

1. makes a data folder with a server key, then appends ``DECISION_CREATED`` records of the shape
   ``/v1/authorize`` writes (about 1.9 KB each) through the store's own append path, 10,000 per
   transaction: each record is hashed into the chain and a checkpoint is signed every 1,000
   records, exactly as the server does it;
2. runs ``openleash audit verify --json`` on it in a fresh process (what an operator runs) and
   reports its wall time, the records per second and the verifier's own report;
3. with ``--tamper``, edits one record in the middle with plain ``sqlite3`` and checks that the
   verifier fails naming it.

Run from the project root; files go to a scratch folder under /tmp unless ``--dir`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from openleash.crypto import new_server_key  # noqa: E402 -- after the path set-up above
from openleash.domain.models import AuditEvent  # noqa: E402
from openleash.domain.timefmt import iso_ms  # noqa: E402
from openleash.store.sql.sqlite import SqliteStore  # noqa: E402

PER_TRANSACTION = 10_000
RULES = [
    ("purchase_small_allow", True, True, True, True),
    ("purchase_large_approval", True, True, False, False),
    ("purchase_huge_deny", True, True, False, False),
    ("booking_allow", False, None, None, False),
    ("government_step_up", False, None, None, False),
    ("communication_known", False, None, None, False),
]


def decision(rng: random.Random, n: int, start_ms: int) -> AuditEvent:
    stamp = _iso_ms(start_ms + n * 2)
    decision_id, action_id = str(uuid.uuid4()), str(uuid.uuid4())
    agent, owner = f"ap-{rng.randrange(10_000):05d}", f"user-{rng.randrange(2_500):04d}"
    action = {
        "action_id": action_id,
        "action_type": "purchase",
        "requested_at": stamp,
        "principal": {"agent_id": f"agent-{agent}"},
        "subject": {"principal_id": owner},
        "payload": {
            "amount_minor": rng.randrange(100, 50_000),
            "currency": "USD",
            "merchant_domain": "shop.example",
        },
    }
    meta: dict[str, Any] = {
        "decision_id": decision_id,
        "result": "ALLOW",
        "matched_rule_id": "purchase_small_allow",
        "reason": 'Allowed by rule "purchase_small_allow"',
        "action_hash": f"{rng.getrandbits(256):064x}",
        "action_type": "purchase",
        "agent_id": f"agent-{agent}",
        "agent_principal_id": agent,
        "owner_type": "user",
        "owner_id": owner,
        "obligations": [],
        "risk_level": "low",
        "limits": [],
        "policy_id": "policy-1",
        "policy_ids": ["policy-1"],
        "policy_hash": f"{rng.getrandbits(256):064x}",
        "proof_required": True,
        "action": action,
        "trace": {
            "rules": [
                {
                    "rule_id": rule,
                    "pattern_match": pattern,
                    "when_match": when,
                    "constraints_match": constraints,
                    "schedule_match": None,
                    "limits_match": None,
                    "final_match": final,
                }
                for rule, pattern, when, constraints, final in RULES
            ]
        },
    }
    return AuditEvent(
        str(uuid.uuid4()), stamp, "DECISION_CREATED", agent, action_id, decision_id, meta
    )


def _iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


async def seed(db: Path, records: int) -> float:
    store = SqliteStore.open(db)
    rng = random.Random(7)
    start_ms = int(time.time() * 1000) - records * 2
    started = time.perf_counter()
    try:
        key = new_server_key(datetime.now(UTC))
        async with store.transaction() as tx:
            await tx.add_key(key, make_active=True)
        written = 0
        while written < records:
            size = min(PER_TRANSACTION, records - written)
            events = [decision(rng, written + i, start_ms) for i in range(size)]
            async with store.transaction() as tx:
                await tx.append(events)
            written += size
            print(f"\rseeded {written:,} records", end="", flush=True)
    finally:
        await store.close()
    print()
    return time.perf_counter() - started


def verify(folder: Path) -> tuple[float, int, dict[str, Any]]:
    command = [sys.executable, "-m", "openleash", "audit", "verify", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--data-dir", str(folder)], capture_output=True, text=True, env=env, check=False
    )
    elapsed = time.perf_counter() - started
    if not done.stdout.strip():
        raise SystemExit(f"verify printed nothing (exit {done.returncode}):\n{done.stderr}")
    return elapsed, done.returncode, json.loads(done.stdout)


def tamper(db: Path, seq: int) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute(
            "UPDATE audit_events SET metadata_json = replace(metadata_json, 'ALLOW', 'DENY')"
            " WHERE seq = ?",
            (seq,),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="data folder (default: scratch)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--tamper", action="store_true", help="also check a tampered copy fails")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="openleash-audit-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "openleash.db"
    try:
        if not db.exists():
            seconds = asyncio.run(seed(db, args.records))
            size = db.stat().st_size / 1e9
            print(f"seed: {args.records:,} records in {seconds:.1f} s", end=" ")
            print(f"({args.records / seconds:,.0f} appends/s); file {size:.2f} GB")
        elapsed, code, report = verify(folder)
        records = report["records"]
        print(
            f"verify: exit {code}, {records:,} records in {elapsed:.1f} s "
            f"({records / elapsed:,.0f} records/s, CLI start-up included); "
            f"{report['checkpoints_verified']} checkpoints verified"
        )
        if code != 0:
            raise SystemExit(f"verification failed: {report['problem']}")
        if args.tamper:
            middle = records // 2
            tamper(db, middle)
            elapsed, code, report = verify(folder)
            problem = report["problem"] or {}
            print(f"tampered record {middle}: exit {code} in {elapsed:.1f} s, {problem}")
            if code != 1 or problem.get("seq") != middle:
                raise SystemExit("the tampered record was not named")
        python = sys.version.split()[0]
        print(f"at {iso_ms(datetime.now(UTC))} on {os.cpu_count()} cores, Python {python}")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
