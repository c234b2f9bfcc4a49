"""Throughput of signed ``POST /v1/authorize`` requests that each get a proof token.

What it does, in order:

1. makes a fresh data folder and runs ``openleash init`` (owner, agent, balanced policy);
2. with ``--seed-large``, writes 10,000 agents (with their owners, policies and bindings) and
   1,000,000 audit records straight into the SQLite file, the way the store lays them out;
3. starts ``openleash start --workers 2`` on a free loopback port;
4. sends one request by hand and checks the answer (ALLOW, a proof token that verifies offline);
5. signs every request of the run beforehand (each needs its own nonce and a recent timestamp)
   and writes them, one file per wrk thread, for ``authorize.lua``;
6. runs wrk once to warm up and once to measure, and reads back what the Lua script counted;
7. checks that the store gained one audit record per answered request, stops the server and
   prints a summary: requests/s, latency percentiles, non-200 answers, CPU of server and wrk.

Run from the project root with the project's virtualenv::

    .venv/bin/python bench/authorize_wrk.py                  # plain store
    .venv/bin/python bench/authorize_wrk.py --seed-large     # 10k agents, 1M audit records

``--profile DIR`` samples the workers with py-spy during the measured run and prints where
their time goes (the figures of such a run are lower: py-spy shares the two cores).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import random
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
LUA_SCRIPT = Path(__file__).resolve().with_name("authorize.lua")
AUTHORIZE_PATH = "/v1/authorize"
#: The balanced profile allows purchases up to this amount, with a proof (purchase_small_allow).
MAX_ALLOWED_AMOUNT = 50_000
#: The server refuses timestamps further than this from its clock (security.clock_skew_seconds).
CLOCK_SKEW_SECONDS = 120
#: Requests signed per second of run when --requests is not given: twice the target rate.
DEFAULT_POOL_RATE = 6_000
#: Seconds one core takes to sign one request (a generous estimate).
SIGN_SECONDS = 60e-6
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- command line -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput of signed POST /v1/authorize requests (wrk + Lua).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds of measured load")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help=f"requests signed for the measured run (default: duration x {DEFAULT_POOL_RATE})",
    )
    parser.add_argument(
        "--seed-large",
        action="store_true",
        help="seed the store with --seed-agents agents and --seed-events audit records",
    )
    parser.add_argument("--seed-agents", type=int, default=10_000, help="agents --seed-large adds")
    parser.add_argument(
        "--seed-events", type=int, default=1_000_000, help="audit records --seed-large adds"
    )
    parser.add_argument(
        "--seed-nonces",
        type=int,
        default=0,
        help="also seed this many stored nonces (half of them expired)",
    )
    parser.add_argument(
        "--src",
        type=Path,
        default=SRC,
        help="the OpenLeash source folder the server (and the seeding) runs from, e.g. an "
        "export of another commit: git archive COMMIT src | tar -x -C /tmp/other",
    )
    parser.add_argument("--port", type=int, default=0, help="server port (0: any free port)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for data and request files (default: a temporary one)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="sample the workers with py-spy during the measured run; write the stacks to DIR",
    )
    parser.add_argument(
        "--limits",
        action="store_true",
        help="decide under a policy with one spend and one count limit",
    )
    parser.add_argument("--profile-rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument(
        "--profile-args",
        default="",
        help='more py-spy record flags, e.g. "--idle" (also count blocked threads) or "--native"',
    )
    parser.add_argument(
        "--wait-idle",
        type=int,
        default=0,
        metavar="SECONDS",
        help="before each wrk run, wait up to this long for other processes to leave the CPU",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections <= 0 or args.threads <= 0:
        parser.error("--duration, --connections and --threads must be positive")
    if args.connections < args.threads:
        parser.error("wrk needs at least one connection per thread")
    if args.warmup + args.duration > CLOCK_SKEW_SECONDS:
        parser.error(
            f"--warmup + --duration must stay within {CLOCK_SKEW_SECONDS} s: every request is "
            "signed before the run and the server refuses older timestamps"
        )
    return args


# -- the data folder ----------------------------------------------------------------------------


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    for key in [k for k in env if k.startswith("OPENLEASH_")]:
        del env[key]
    return env


def init_store(workdir: Path) -> dict[str, str]:
    """``openleash init`` in ``workdir``; returns the agent's credentials."""
    env_file = workdir / "agent.env"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openleash",
            "init",
            "--owner-name",
            "Bench Owner",
            "--agent-id",
            "bench-agent",
            "--policy-profile",
            "balanced",
            "--output-env",
            str(env_file),
            "--data-dir",
            "data",
        ],
        cwd=workdir,
        env=server_env(),
        check=True,
        capture_output=True,
    )
    values: dict[str, str] = {}
    for line in env_file.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


#: With --limits: the bench agent's purchases are allowed (with a proof) under one spend and one
#: count limit, both large enough never to run out during a run, so every request is an ALLOW
#: that reads its usage and records itself, as under a real budget.
LIMITS_POLICY = """\
version: 1
default: deny
rules:
  - id: purchase_small_allow
    effect: allow
    action: purchase
    constraints:
      amount_max: 50000
    proof:
      required: true
    limits:
      - spend: 1000000000000
        window: 24h
      - count: 1000000000
        window: 1h
"""


def use_limits_policy(workdir: Path) -> None:
    """Replace the balanced policy of ``init`` by :data:`LIMITS_POLICY` (same id, same binding)."""
    run = functools.partial(
        subprocess.run, cwd=workdir, env=server_env(), check=True, capture_output=True, text=True
    )
    cli = [sys.executable, "-m", "openleash"]
    listed = run([*cli, "policy", "list", "--json", "--data-dir", "data"]).stdout
    (policy,) = json.loads(listed)["policies"]
    (workdir / "limits.yaml").write_text(LIMITS_POLICY, encoding="utf-8")
    run(
        [
            *cli,
            "policy",
            "upsert",
            "--policy-id",
            policy["policy_id"],
            "--file",
            "limits.yaml",
            "--data-dir",
            "data",
        ]
    )


def database_path(workdir: Path) -> Path:
    return workdir / "data" / "openleash.db"


# -- seeding a large store ----------------------------------------------------------------------

#: The trace the balanced policy gives a small purchase (what the server writes in the log).
_TRACE_RULES = [
    ("purchase_small_allow", True, True, True, True),
    ("purchase_large_approval", True, True, False, False),
    ("appointment_hairdresser_allow", False, None, None, False),
    ("appointment_healthcare", False, None, None, False),
    ("government_submit", False, None, None, False),
    ("communication_deny", False, None, None, False),
]


def _iso_ms(epoch_ms: int) -> str:
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


@dataclass
class SeedReport:
    owners: int = 0
    agents: int = 0
    events: int = 0
    nonces: int = 0
    seconds: float = 0.0
    database_bytes: int = 0


def seed_store(db: Path, *, agents: int, events: int, nonces: int) -> SeedReport:
    """Write owners, agents, policies, bindings, audit records and nonces straight into ``db``.

    Rows go through the store's own statements and row mappers, so they are laid out exactly as
    the server writes them. The server is not running yet: it builds its caches from scratch
    when it starts, so the revision counter is left alone.
    """
    from openleash.crypto import generate_keypair
    from openleash.domain.models import Agent, AuditEvent, Binding, Owner, PolicyRecord
    from openleash.policy.profiles import profile_policy_yaml
    from openleash.store.sql import queries as q
    from openleash.store.sql import rows

    # Newer stores also keep a ledger of allowed actions (for spend and rate limits), one row per
    # ALLOW decision: seeded along with the decisions, through the store's own statements.
    try:
        from openleash.service.limits import allowed_action as ledger
    except ImportError:
        ledger = None
    if not hasattr(q, "RECORD_ALLOWED"):
        ledger = None

    started = time.monotonic()
    report = SeedReport()
    rng = random.Random(7)
    now_ms = int(time.time() * 1000)
    stamp = _iso_ms(now_ms - 40 * 86_400_000)
    policy_yaml = profile_policy_yaml("balanced")
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        # Bulk loading only: the server opens its own connections with its own settings.
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1048576")  # 1 GiB
        conn.execute("PRAGMA foreign_keys = ON")

        agents_per_owner = 4
        owner_rows: list[tuple[Any, ...]] = []
        agent_rows: list[tuple[Any, ...]] = []
        policy_rows: list[tuple[Any, ...]] = []
        binding_rows: list[tuple[Any, ...]] = []
        seeded: list[tuple[str, str, str]] = []  # agent_principal_id, agent_id, owner_id
        owner_id = ""
        for index in range(agents):
            if index % agents_per_owner == 0:
                owner_id = str(uuid.uuid4())
                owner_rows.append(
                    rows.owner_params(Owner(owner_id, f"Seed owner {index}", "ACTIVE", stamp))
                )
                policy_id = str(uuid.uuid4())
                policy_rows.append(
                    rows.policy_params(
                        PolicyRecord(
                            policy_id, "user", owner_id, None, "balanced profile", None,
                            policy_yaml, stamp, stamp,
                        )
                    )
                )  # fmt: skip
                binding_rows.append(
                    rows.binding_params(
                        Binding(str(uuid.uuid4()), "user", owner_id, policy_id, None)
                    )
                )
            public_b64, _ = generate_keypair()
            agent = Agent(
                agent_principal_id=str(uuid.uuid4()),
                agent_id=f"seed-agent-{index:05d}",
                owner_type="user",
                owner_id=owner_id,
                public_key_b64=public_b64,
                status="ACTIVE",
                created_at=stamp,
            )
            agent_rows.append(rows.agent_params(agent))
            seeded.append((agent.agent_principal_id, agent.agent_id, owner_id))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(q.ADD_OWNER, owner_rows)
        conn.executemany(q.ADD_AGENT, agent_rows)
        conn.executemany(q.PUT_POLICY, policy_rows)
        conn.executemany(q.ADD_BINDING, binding_rows)
        conn.execute("COMMIT")
        report.owners, report.agents = len(owner_rows), len(agent_rows)

        # Audit records: decisions as /v1/authorize writes them, spread over the last 30 days.
        batch = 20_000
        span_ms = 30 * 86_400_000
        first_ms = now_ms - span_ms
        policy_of_owner = {row[2]: row[0] for row in policy_rows}
        written = 0
        while written < events:
            size = min(batch, events - written)
            params = []
            allowed = []
            for offset in range(size):
                number = written + offset
                principal, agent_id, owner = seeded[rng.randrange(len(seeded))]
                moment = first_ms + span_ms * number // max(events, 1)
                event = _decision_event(
                    rng, moment, principal, agent_id, owner, policy_of_owner[owner], AuditEvent
                )
                params.append(rows.event_params(event))
                if ledger is not None:
                    meta = event.metadata_json
                    allowed.append(
                        ledger(
                            meta["decision_id"],
                            owner,
                            principal,
                            meta["action"],
                            datetime.fromtimestamp(moment / 1000, UTC),
                        )
                    )
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(q.APPEND_EVENT, params)
            for action in allowed:
                _record_allowed(conn, q, action)
            conn.execute("COMMIT")
            written += size
        report.events = written

        # Nonces: as many as a busy server would keep; half expired, half still live.
        written = 0
        while written < nonces:
            size = min(batch, nonces - written)
            nonce_rows = []
            for offset in range(size):
                _, agent_id, _ = seeded[rng.randrange(len(seeded))] if seeded else ("", "x", "")
                expires = now_ms + (600_000 if (written + offset) % 2 else -600_000)
                nonce_rows.append((agent_id, str(uuid.uuid4()), expires, now_ms))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(q.USE_NONCE, nonce_rows)
            conn.execute("COMMIT")
            written += size
        report.nonces = written
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()
    report.seconds = time.monotonic() - started
    report.database_bytes = db.stat().st_size
    return report


def _record_allowed(conn: sqlite3.Connection, q: Any, action: Any) -> None:
    """What ``SqliteTransaction.record_allowed`` does: bump the stream, then add the row."""
    stream_id, total_amount, total_count, at_ms = conn.execute(
        q.ADD_TO_STREAM,
        (
            action.owner_id,
            action.agent_principal_id,
            action.action_type,
            action.currency or "",
            action.counterparty or "",
            action.amount_minor or 0,
            action.at_ms,
        ),
    ).fetchone()
    conn.execute(
        q.RECORD_ALLOWED,
        (stream_id, action.decision_id, action.amount_minor, at_ms, total_amount, total_count),
    )


def _decision_event(
    rng: random.Random,
    moment_ms: int,
    principal: str,
    agent_id: str,
    owner_id: str,
    policy_id: str,
    event_type: Any,
) -> Any:
    stamp = _iso_ms(moment_ms)
    decision_id = str(uuid.uuid4())
    action_id = str(uuid.uuid4())
    action = {
        "action_id": action_id,
        "action_type": "purchase",
        "requested_at": stamp,
        "principal": {"agent_id": agent_id},
        "subject": {"principal_id": owner_id},
        "payload": {
            "amount_minor": rng.randrange(100, MAX_ALLOWED_AMOUNT),
            "currency": "USD",
            "merchant_domain": "shop.example",
        },
    }
    return event_type(
        event_id=str(uuid.uuid4()),
        timestamp=stamp,
        event_type="DECISION_CREATED",
        principal_id=principal,
        action_id=action_id,
        decision_id=decision_id,
        metadata_json={
            "decision_id": decision_id,
            "result": "ALLOW",
            "matched_rule_id": "purchase_small_allow",
            "reason": 'Allowed by rule "purchase_small_allow"',
            "action_hash": f"{rng.getrandbits(256):064x}",
            "action_type": "purchase",
            "agent_id": agent_id,
            "agent_principal_id": principal,
            "owner_type": "user",
            "owner_id": owner_id,
            "obligations": [],
            "policy_id": policy_id,
            "policy_ids": [policy_id],
            "proof_issued": True,
            "proof_expires_at": _iso_ms(moment_ms + 120_000),
            "action": action,
            "trace": {
                "rules": [
                    {
                        "rule_id": rule,
                        "pattern_match": pattern,
                        "when_match": when,
                        "constraints_match": constraints,
                        "final_match": final,
                    }
                    for rule, pattern, when, constraints, final in _TRACE_RULES
                ]
            },
        },
    )


def store_counts(db: Path) -> dict[str, int]:
    """Row counts of the tables the benchmark touches (read-only; safe while the server runs)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            "agents": conn.execute("SELECT count(*) FROM agents").fetchone()[0],
            "allowed_actions": _allowed_actions(conn),
            "audit_max_seq": conn.execute(
                "SELECT coalesce(max(seq), 0) FROM audit_events"
            ).fetchone()[0],
            "nonces": conn.execute("SELECT count(*) FROM nonces").fetchone()[0],
        }
    finally:
        conn.close()


def _allowed_actions(conn: sqlite3.Connection) -> int:
    """Rows of the allowed-actions ledger (by seq range, no scan); 0 in stores without one."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'allowed_actions'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute(
        "SELECT coalesce(max(seq) - min(seq) + 1, 0) FROM allowed_actions"
    ).fetchone()
    return int(row[0])


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``openleash start`` in its own session, so it and its workers can be stopped together."""

    def __init__(self, workdir: Path, port: int, workers: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workers = workers
        self._log = (workdir / "server.log").open("wb")
        self.log_path = workdir / "server.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "openleash",
                "start",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--data-dir",
                "data",
            ],
            cwd=workdir,
            env=server_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                answered = httpx.get(f"{self.url}/v1/health", timeout=1.0).status_code == 200
                if answered and len(self.worker_pids()) >= self.workers:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        """The worker processes (uvicorn spawns them; the resource tracker is left out)."""
        found = []
        for pid in _children(self.proc.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmdline:
                found.append(pid)
        return found

    def cpu_seconds(self) -> float:
        """CPU time of the server's main process and all its children so far."""
        return sum(_process_cpu(pid) for pid in [self.proc.pid, *_children(self.proc.pid)])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def wait_for_idle(server: Server, limit: float, threshold: float = 0.15) -> float:
    """Wait (up to ``limit`` s) until processes other than the server use < ``threshold`` cores
    over one second; return the share of a core they used in the last second measured."""
    deadline = time.monotonic() + limit
    while True:
        machine, own = machine_busy_seconds(), server.cpu_seconds()
        time.sleep(1.0)
        others = (machine_busy_seconds() - machine) - (server.cpu_seconds() - own)
        if others < threshold or time.monotonic() >= deadline:
            return max(0.0, others)


def verify_canary(rounds: int = 2000) -> float:
    """Microseconds one Ed25519 verification takes here: a yardstick of the CPU's speed at the
    time of a run (shared or throttled machines drift), and a fixed cost of every request."""
    from openleash.crypto import generate_keypair, load_private_key, load_public_key

    public_b64, private_b64 = generate_keypair()
    message = b"POST\n/v1/authorize\n" + b"x" * 100
    signature = load_private_key(private_b64).sign(message)
    key = load_public_key(public_b64)
    started = time.perf_counter()
    for _ in range(rounds):
        key.verify(signature, message)
    return (time.perf_counter() - started) / rounds * 1e6


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on the machine so far (all cores, not idle or iowait)."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


# -- requests -----------------------------------------------------------------------------------


def action_body(agent_id: str, owner_id: str, stamp: str, rng: random.Random) -> bytes:
    amount = rng.randrange(100, MAX_ALLOWED_AMOUNT + 1)
    body = {
        "action_id": str(uuid.uuid4()),
        "action_type": "purchase",
        "requested_at": stamp,
        "principal": {"agent_id": agent_id},
        "subject": {"principal_id": owner_id},
        "payload": {"amount_minor": amount, "currency": "USD", "merchant_domain": "shop.example"},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signed_requests(
    credentials: dict[str, str], host: str, count: int, stamp: str, seed: int
) -> list[bytes]:
    """``count`` raw HTTP/1.1 requests, each with its own nonce and action_id."""
    from openleash.client import AgentAuth

    agent_id = credentials["OPENLEASH_AGENT_ID"]
    owner_id = credentials["USER_PRINCIPAL_ID"]
    auth = AgentAuth(agent_id, credentials["OPENLEASH_AGENT_PRIVATE_KEY_B64"], clock=lambda: stamp)
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        body = action_body(agent_id, owner_id, stamp, rng)
        headers = auth.sign_headers("POST", AUTHORIZE_PATH, body)
        head = [
            f"POST {AUTHORIZE_PATH} HTTP/1.1",
            f"Host: {host}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        made.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return made


def sign_pools(
    credentials: dict[str, str], host: str, stamp: str, counts: dict[str, int]
) -> dict[str, list[bytes]]:
    """Sign every pool (name -> count) on all cores; the server is idle meanwhile."""
    chunk = 5_000
    jobs = [
        (name, start, min(chunk, count - start))
        for name, count in counts.items()
        for start in range(0, count, chunk)
    ]
    pools: dict[str, list[bytes]] = {name: [] for name in counts}
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        futures = [
            pool.submit(signed_requests, credentials, host, size, stamp, seed)
            for seed, (_, _, size) in enumerate(jobs)
        ]
        for (name, _, _), future in zip(jobs, futures, strict=True):
            pools[name].extend(future.result())
    return pools


def write_pool(prefix: Path, requests: list[bytes], threads: int) -> list[int]:
    """Deal the requests round-robin into ``prefix.0`` .. ``prefix.{threads-1}``."""
    handles = [open(f"{prefix}.{i}", "wb") for i in range(threads)]  # noqa: SIM115
    counts = [0] * threads
    try:
        for number, raw in enumerate(requests):
            slot = number % threads
            handles[slot].write(b"%d\n" % len(raw) + raw)
            counts[slot] += 1
    finally:
        for handle in handles:
            handle.close()
    return counts


def iso_at(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_one(server: Server, credentials: dict[str, str]) -> dict[str, Any]:
    """One request by hand: 200, ALLOW, and a proof token that verifies offline."""
    from openleash.client import AgentAuth, verify_proof_offline

    agent_id = credentials["OPENLEASH_AGENT_ID"]
    auth = AgentAuth(agent_id, credentials["OPENLEASH_AGENT_PRIVATE_KEY_B64"])
    body = action_body(
        agent_id, credentials["USER_PRINCIPAL_ID"], iso_at(time.time()), random.Random(1)
    )
    headers = auth.sign_headers("POST", AUTHORIZE_PATH, body)
    headers["Content-Type"] = "application/json"
    response = httpx.post(server.url + AUTHORIZE_PATH, content=body, headers=headers, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"check request: HTTP {response.status_code}: {response.text}")
    decision = response.json()
    if decision["result"] != "ALLOW" or not decision.get("proof_token"):
        raise RuntimeError(f"check request: expected ALLOW with a proof token, got {decision}")
    keys = httpx.get(server.url + "/v1/public-keys", timeout=10).json()["keys"]
    claims = verify_proof_offline(
        decision["proof_token"],
        keys,
        expected_action_hash=decision["action_hash"],
        expected_agent_id=agent_id,
    )
    return {"result": decision["result"], "matched_rule_id": decision["matched_rule_id"], **claims}


# -- wrk ----------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    seconds: int
    result: dict[str, Any] = field(default_factory=dict)
    first_error: str = ""
    output: str = ""
    wrk_cpu: float = 0.0
    server_cpu: float = 0.0
    machine_cpu: float = 0.0
    wall: float = 0.0
    audit_before: int = 0
    audit_after: int = 0


def run_wrk(
    server: Server,
    prefix: Path,
    args: argparse.Namespace,
    seconds: int,
    *,
    profile_to: Path | None = None,
) -> WrkRun:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        server.url,
        "--",
        str(prefix),
        str(args.threads),
    ]
    profiler = None
    if profile_to is not None:
        profiler = start_profiler(
            server, seconds, profile_to, args.profile_rate, shlex.split(args.profile_args)
        )
    run = WrkRun(seconds)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before, machine_before, wall_before = (
        server.cpu_seconds(),
        machine_busy_seconds(),
        time.monotonic(),
    )
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    run.wall = time.monotonic() - wall_before
    run.server_cpu = server.cpu_seconds() - server_before
    run.machine_cpu = machine_busy_seconds() - machine_before
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.wrk_cpu = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    if profiler is not None:
        profiler.wait()
    run.output = completed.stdout
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            run.result = _parse_result(line)
        elif line.startswith("BENCH_FIRST_ERROR "):
            run.first_error = line.removeprefix("BENCH_FIRST_ERROR ")
    if not run.result:
        raise RuntimeError(f"wrk printed no BENCH_RESULT line:\n{completed.stdout}")
    return run


def _parse_result(line: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in line.split()[1:]:
        key, _, value = item.partition("=")
        if key == "statuses":
            result[key] = {
                code: int(count)
                for code, _, count in (pair.partition(":") for pair in value.split(",") if pair)
            }
        else:
            result[key] = float(value) if "." in value else int(value)
    return result


# -- profiling ----------------------------------------------------------------------------------


def start_profiler(
    server: Server, seconds: int, directory: Path, rate: int, extra: list[str]
) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    # Skip the first and last second: connections opening and closing are not the steady state.
    seconds = max(1, seconds - 2)
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.proc.pid),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--output",
            str(directory / "stacks.txt"),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "py-spy.log").open("wb"),
    )


#: Leaf frames of helper threads that block in a system call yet are reported as active by
#: py-spy: the checkpoint thread between rounds and uvicorn's supervisor ping thread.
IDLE_LEAVES = ("Condition.wait (threading.py", "Connection._recv (multiprocessing/connection.py")


def summarize_profile(path: Path, top: int = 40) -> str:
    """Where the workers' event-loop threads spend their samples, by area, function and line.

    Samples of helper threads (SQLite checkpoints, uvicorn's supervisor pings) are counted
    apart. Without ``--idle`` py-spy records only running threads, so shares are of CPU time;
    with ``--idle`` they are of wall time, and waiting shows up (``epoll_wait``/``Runner.run``:
    the loop has nothing to do; ``flock``: blocked on the other worker's write lock).
    """
    inclusive: Counter[str] = Counter()
    self_line: Counter[str] = Counter()
    self_function: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    helpers: Counter[str] = Counter()
    total = helper_total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # The first frames name the processes (server, then worker); keep the workers' stacks.
        frames = stack.split(";")
        processes = [i for i, frame in enumerate(frames) if frame.startswith("process ")]
        if not processes or "spawn_main" not in frames[processes[-1]]:
            continue
        frames = frames[processes[-1] + 1 :]
        if not frames:
            continue
        thread = _helper_thread(frames)
        if thread is not None:
            if not frames[-1].startswith(IDLE_LEAVES):
                helpers[thread] += count
                helper_total += count
            continue
        total += count
        for name in {_function(frame) for frame in frames}:
            inclusive[name] += count
        self_line[_short_frame(frames[-1])] += count
        self_function[_function(frames[-1])] += count
        areas[_area(frames[-1])] += count
    if total == 0:
        return "no samples from the workers"
    lines = [
        f"event-loop thread samples: {total}; busy helper-thread samples: {helper_total} "
        f"({100 * helper_total / total:.1f}% of the event-loop count)",
    ]
    lines += [f"  {100 * n / total:5.1f}%  helper: {name}" for name, n in helpers.most_common()]
    lines += [
        "",
        "event loop, self time by area (package of the innermost frame; without --native,",
        "C code such as SQLite, OpenSSL or uvloop counts for the Python frame calling it):",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in areas.most_common(25)]
    lines += ["", f"event loop, self time by function (top {top}):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_function.most_common(top)]
    lines += ["", f"event loop, self time by line (top {top}):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_line.most_common(top)]
    lines += ["", f"event loop, inclusive time by function (top {2 * top}):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(2 * top)]
    return "\n".join(lines)


def _helper_thread(frames: list[str]) -> str | None:
    """The target of a helper thread's stack (the frame after ``Thread.run``), else None."""
    for index, frame in enumerate(frames):
        if frame.startswith("Thread.run (threading.py"):
            following = frames[index + 1] if index + 1 < len(frames) else frame
            return _function(following)
    return None


def _split_frame(frame: str) -> tuple[str, str, str]:
    """``name (path/file.py:123)`` -> (name, path/file.py, 123)."""
    name, _, where = frame.partition(" (")
    where = where.removesuffix(")")
    file, _, number = where.rpartition(":")
    return (name, file, number) if file else (name, where, "")


def _function(frame: str) -> str:
    name, file, _ = _split_frame(frame)
    return f"{name} ({file})"


def _short_frame(frame: str) -> str:
    name, file, number = _split_frame(frame)
    return f"{name} ({file}:{number})"


def _area(frame: str) -> str:
    _, file, _ = _split_frame(frame)
    parts = file.split("/")
    if parts[0] == "openleash" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0].removesuffix(".py")


# -- report -------------------------------------------------------------------------------------


def machine_description() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(
        ["wrk", "-v"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version.strip(),
    }


def summary_text(run: WrkRun, args: argparse.Namespace) -> str:
    r = run.result
    seconds = r["duration_us"] / 1e6
    rate = r["requests"] / seconds
    ok = r["statuses"].get("200", 0)
    lines = [
        f"authorizations/s : {rate:,.0f}  ({r['requests']:,} requests in {seconds:.1f} s, "
        f"{args.connections} connections, {args.threads} wrk threads, "
        f"{args.workers} server workers)",
        f"latency (ms)     : p50 {r['p50'] / 1000:.2f}  p75 {r['p75'] / 1000:.2f}  "
        f"p90 {r['p90'] / 1000:.2f}  p99 {r['p99'] / 1000:.2f}  p99.9 {r['p999'] / 1000:.2f}  "
        f"max {r['lat_max'] / 1000:.2f}  mean {r['lat_mean'] / 1000:.2f}",
        f"responses        : 200 x {ok:,}; non-200 {r['non200']}; "
        f"ALLOW with proof_token {r['allow_with_proof']:,}; statuses {r['statuses']}",
        f"socket errors    : connect {r['err_connect']} read {r['err_read']} "
        f"write {r['err_write']} timeout {r['err_timeout']}",
        f"request pool     : {r['loaded']:,} signed, exhausted {r['exhausted']}",
        f"audit records    : +{run.audit_after - run.audit_before:,} "
        f"(200 answers: {ok:,}; requests still in flight when wrk stops also write one)",
        f"CPU (cores busy) : server {run.server_cpu / run.wall:.2f}, "
        f"wrk {run.wrk_cpu / run.wall:.2f}, "
        f"other {max(0.0, run.machine_cpu - run.server_cpu - run.wrk_cpu) / run.wall:.2f} "
        f"(of {os.cpu_count()}); server CPU per request "
        f"{1e6 * run.server_cpu / max(1, r['requests']):.0f} µs",
    ]
    others = max(0.0, run.machine_cpu - run.server_cpu - run.wrk_cpu) / run.wall
    if others > 0.1:
        lines.append(
            f"NOTE             : other processes used {others:.2f} cores during the run; "
            "the machine was not quiet and the figures are low"
        )
    if run.first_error:
        lines.append(f"first error body : {run.first_error}")
    return "\n".join(lines)


def verdict(run: WrkRun) -> list[str]:
    """What makes a run invalid (not: what makes it slow)."""
    r = run.result
    problems = []
    if not r["requests"]:
        return ["no request was answered"]
    if r["non200"] or r["statuses"].get("200", 0) != r["requests"]:
        problems.append(f"{r['non200']} non-200 responses")
    if r["allow_with_proof"] != r["requests"]:
        problems.append(f"only {r['allow_with_proof']} of {r['requests']} ALLOW with a proof")
    if r["exhausted"]:
        problems.append("the signed request pool ran out: raise --requests")
    errors = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    if errors:
        problems.append(f"{errors} socket errors or timeouts")
    if run.audit_after - run.audit_before < r["statuses"].get("200", 0):
        problems.append("fewer audit records than 200 answers")
    return problems


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    global SRC  # one run, one source folder, for every subprocess
    SRC = args.src.resolve()
    # Seeding and signing import OpenLeash in this process: from the same folder.
    sys.path.insert(0, str(SRC))
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    own_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="openleash-bench-")) if own_workdir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / "data").exists():
        print(f"{workdir}/data exists; give an empty --workdir", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"machine": machine_description(), "args": _jsonable(vars(args))}
    try:
        return _run(args, workdir, results)
    finally:
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        if own_workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            print(f"work folder kept: {workdir}")


def _run(args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> int:
    print(f"machine: {results['machine']}")
    credentials = init_store(workdir)
    if args.limits:
        use_limits_policy(workdir)
    db = database_path(workdir)
    if args.seed_large or args.seed_nonces:
        agents = args.seed_agents if args.seed_large else 0
        events = args.seed_events if args.seed_large else 0
        print(f"seeding {agents:,} agents, {events:,} audit records, {args.seed_nonces:,} nonces…")
        seed = seed_store(db, agents=agents, events=events, nonces=args.seed_nonces)
        print(
            f"seeded in {seed.seconds:.0f} s: {seed.owners:,} owners, {seed.agents:,} agents, "
            f"{seed.events:,} audit records, {seed.nonces:,} nonces; "
            f"database {seed.database_bytes / 2**20:,.0f} MiB"
        )
        results["seed"] = vars(seed)
    results["store_before"] = store_counts(db)
    print(f"store: {results['store_before']}")

    port = args.port or free_port()
    server = Server(workdir, port, args.workers)
    try:
        server.wait_ready()
        results["check"] = check_one(server, credentials)
        print(f"check request: {results['check']['result']}, proof verified offline")

        if args.wait_idle:
            others = wait_for_idle(server, args.wait_idle)
            if others >= 0.15:
                print(f"warning: other processes use {others:.2f} cores; figures will be low")
        results["verify_canary_us"] = verify_canary()
        measured = args.requests or args.duration * DEFAULT_POOL_RATE
        warmup = args.warmup * DEFAULT_POOL_RATE
        # One timestamp for every request, near the middle of the load, so that none strays
        # more than about half the load's length from the server clock.
        estimate = (measured + warmup) * SIGN_SECONDS / (os.cpu_count() or 1) + 1
        stamp_at = time.time() + estimate + (args.warmup + args.duration) / 2
        stamp = iso_at(stamp_at)
        started = time.monotonic()
        pools = sign_pools(
            credentials, f"127.0.0.1:{port}", stamp, {"warmup": warmup, "run": measured}
        )
        for name, requests in pools.items():
            write_pool(workdir / name, requests, args.threads)
        del pools
        print(f"signed {measured + warmup:,} requests in {time.monotonic() - started:.1f} s")
        late = time.time() + args.warmup + args.duration + 5 - stamp_at
        early = stamp_at - time.time()
        if max(late, early) > CLOCK_SKEW_SECONDS - 5:
            raise RuntimeError("signing took too long for the timestamps to stay valid")

        if args.warmup:
            warm = run_wrk(server, workdir / "warmup", args, args.warmup)
            r = warm.result
            print(
                f"warm-up: {r['requests'] / (r['duration_us'] / 1e6):,.0f} req/s, "
                f"non-200 {r['non200']}"
            )
        audit_before = store_counts(db)["audit_max_seq"]
        run = run_wrk(server, workdir / "run", args, args.duration, profile_to=args.profile)
        run.audit_before = audit_before
    finally:
        server.stop()
    run.audit_after = store_counts(db)["audit_max_seq"]
    results["store_after"] = store_counts(db)
    print()
    print(run.output.rstrip())
    print()
    print(summary_text(run, args))
    print(f"CPU yardstick    : one Ed25519 verification took {results['verify_canary_us']:.0f} µs")
    problems = verdict(run)
    results["run"] = {
        **run.result,
        "requests_per_second": run.result["requests"] / (run.result["duration_us"] / 1e6),
        "server_cores": run.server_cpu / run.wall,
        "wrk_cores": run.wrk_cpu / run.wall,
        "other_cores": max(0.0, run.machine_cpu - run.server_cpu - run.wrk_cpu) / run.wall,
        "audit_records_added": run.audit_after - run.audit_before,
        "problems": problems,
    }
    if args.profile is not None:
        stacks = args.profile / "stacks.txt"
        if stacks.exists():
            text = summarize_profile(stacks)
            (args.profile / "summary.txt").write_text(text + "\n", encoding="utf-8")
            print()
            print(f"profile ({stacks}):")
            print(text)
        else:
            print(f"py-spy wrote nothing; see {args.profile / 'py-spy.log'}")
    if problems:
        print("INVALID RUN: " + "; ".join(problems))
        return 1
    return 0


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


if __name__ == "__main__":
    sys.exit(main())
