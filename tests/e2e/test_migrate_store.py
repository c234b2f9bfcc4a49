"""``openleash migrate-store``: a SQLite deployment with real activity moves to PostgreSQL and
goes on there as if nothing happened: the agent still authorizes, budgets still count what was
spent, proofs signed before still verify, a request signed before is still a replay, and the
audit log is the same chain (which an edit made afterwards breaks).

Skips when no PostgreSQL server is reachable (``OPENLEASH_TEST_POSTGRES_URL``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from openleash.client import AgentAuth, PublicKeyCache, verify_proof_offline
from tests.contract import _postgres
from tests.support.actions import action
from tests.support.live import Credentials, LiveServer, free_port, owner_login, provision, run_cli

pytestmark = pytest.mark.e2e

POLICY = """\
version: 1
default: deny
rules:
  - id: within_budget
    effect: allow
    action: purchase
    constraints: { amount_max: 1000 }
    limits:
      - spend: 5000
        window: 24h
    proof: { required: true, ttl_seconds: 600 }
  - id: ask_me
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""
# The policy change made before the move: messages allowed too.
CHANGED = (
    POLICY
    + """\
  - id: messages
    effect: allow
    action: email.send
"""
)
#: The server on SQLite sees changes made by the CLI within this (it refreshes every 0.1 s).
SETTLE_SECONDS = 1.0
#: Keeps a stray OPENLEASH_DATABASE_URL of the environment away from the SQLite phase.
ON_SQLITE = {"OPENLEASH_DATABASE_URL": ""}


@dataclass
class Moved:
    """The deployment after the move, with what it did before."""

    server: LiveServer
    creds: Credentials
    database: str
    proofs: list[str]
    kids: list[str]
    replayable: tuple[bytes, dict[str, str]]
    records_before: int
    migrate_output: str
    on_postgres: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    reason = _postgres.unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = _postgres.create_database()
    try:
        yield url
    finally:
        _postgres.drop_database(url)


def _signed(auth: AgentAuth, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        **auth.sign_headers("POST", "/v1/authorize", raw),
    }
    return raw, headers


def _authorize(url: str, auth: AgentAuth, body: dict[str, Any]) -> dict[str, Any]:
    raw, headers = _signed(auth, body)
    response = httpx.post(f"{url}/v1/authorize", content=raw, headers=headers, timeout=10.0)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _buy(live: LiveServer, creds: Credentials, amount: int, **extra: Any) -> dict[str, Any]:
    auth = AgentAuth(creds.agent_id, creds.private_key_b64)
    body = {**action(creds.agent_id, creds.owner_id, amount_minor=amount, currency="USD"), **extra}
    return _authorize(live.url, auth, body)


def _approved_purchase(live: LiveServer, creds: Credentials, amount: int) -> dict[str, Any]:
    """A purchase over the rule's maximum, approved by the owner, then made with the token."""
    auth = AgentAuth(creds.agent_id, creds.private_key_b64)
    owner = {"Authorization": f"Bearer {owner_login(live, creds.owner_id)}"}
    held = action(creds.agent_id, creds.owner_id, amount_minor=amount, currency="USD")
    decision = _authorize(live.url, auth, held)
    assert decision["result"] == "REQUIRE_APPROVAL"
    raw = json.dumps({"decision_id": decision["decision_id"], "action": held}).encode()
    filed = httpx.post(
        f"{live.url}/v1/agent/approval-requests",
        content=raw,
        headers={
            "Content-Type": "application/json",
            **auth.sign_headers("POST", "/v1/agent/approval-requests", raw),
        },
        timeout=10.0,
    ).json()
    answer = httpx.post(
        f"{live.url}/v1/owner/approval-requests/{filed['approval_request_id']}/approve",
        json={},
        headers=owner,
        timeout=10.0,
    ).json()
    return _authorize(live.url, auth, {**held, "approval_token": answer["approval_token"]})


def _audit_records(live: LiveServer, env: dict[str, str]) -> int:
    out = run_cli(
        live.data_dir, "audit", "verify", "--json", "--data-dir", str(live.data_dir), env=env
    )
    report = json.loads(out.stdout)
    assert report["ok"], report
    return int(report["records"])


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Moved]:
    root: Path = tmp_path_factory.mktemp("migrate-store")
    live = LiveServer(root, free_port(), workers=1, env=ON_SQLITE)
    creds = provision(live.data_dir, POLICY, env=ON_SQLITE)
    auth = AgentAuth(creds.agent_id, creds.private_key_b64)
    live.start()
    try:
        proofs = [_buy(live, creds, 1000)["proof_token"], _buy(live, creds, 1000)["proof_token"]]
        first_kid = live.admin("GET", "/v1/admin/keys")["keys"][0]["kid"]
        rotated = live.admin("POST", "/v1/admin/keys/rotate")["kid"]
        # A policy change, by the CLI as an operator would make it while the server runs.
        policy_id = json.loads(
            run_cli(live.data_dir, "policy", "list", "--json", env=ON_SQLITE).stdout
        )["policies"][0]["policy_id"]
        changed = root / "changed.yaml"
        changed.write_text(CHANGED)
        run_cli(
            live.data_dir,
            "policy",
            "upsert",
            "--file",
            str(changed),
            "--policy-id",
            policy_id,
            env=ON_SQLITE,
        )
        asyncio.run(asyncio.sleep(SETTLE_SECONDS))
        message = action(creds.agent_id, creds.owner_id, "email.send", to="a@b.example")
        assert _authorize(live.url, auth, message)["result"] == "ALLOW"
        after_rotation = _buy(live, creds, 500)
        assert after_rotation["result"] == "ALLOW"
        proofs.append(after_rotation["proof_token"])
        approved = _approved_purchase(live, creds, 1500)
        assert approved["result"] == "ALLOW"
        proofs.append(approved["proof_token"])
        wire = action(creds.agent_id, creds.owner_id, "wire_transfer", amount_minor=1)
        assert _authorize(live.url, auth, wire)["result"] == "DENY"
        # Sent once now; after the move it must still count as used.
        replayable = _signed(auth, action(creds.agent_id, creds.owner_id, amount_minor=0))
        first = httpx.post(
            f"{live.url}/v1/authorize", content=replayable[0], headers=replayable[1], timeout=10
        )
        assert first.status_code == 200, first.text
    finally:
        live.stop()
    records_before = _audit_records(live, ON_SQLITE)

    migrated = run_cli(live.data_dir, "migrate-store", "--to", database, check=False, env=ON_SQLITE)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    on_postgres = {"OPENLEASH_DATABASE_URL": database}
    live.env = on_postgres
    live.workers = 2
    live.start()
    try:
        yield Moved(
            live,
            creds,
            database,
            proofs,
            [first_kid, rotated],
            replayable,
            records_before,
            migrated.stdout,
            on_postgres,
        )
    finally:
        live.stop()


def test_the_copy_reports_every_table_and_a_verified_chain(moved: Moved) -> None:
    out = moved.migrate_output
    for table in ("owners", "agents", "policies", "server_keys", "audit_events", "allowed_actions"):
        assert f"  {table} " in out
    assert f"OK: {moved.records_before} records chained" in out
    assert "postgresql://" in out


def test_the_agent_still_authorizes_and_the_budget_counts_what_was_spent(moved: Moved) -> None:
    # 1000 + 1000 + 500 + 1500 (approved) of the 5000 were spent before the move.
    assert _buy(moved.server, moved.creds, 1000)["result"] == "ALLOW"
    over = _buy(moved.server, moved.creds, 1)
    assert (over["result"], over["matched_rule_id"]) == ("REQUIRE_APPROVAL", "ask_me")
    auth = AgentAuth(moved.creds.agent_id, moved.creds.private_key_b64)
    message = action(moved.creds.agent_id, moved.creds.owner_id, "email.send", to="x@y.example")
    assert _authorize(moved.server.url, auth, message)["result"] == "ALLOW"


def test_proofs_signed_before_the_move_still_verify(moved: Moved) -> None:
    keys = PublicKeyCache(moved.server.url)
    kids = [verify_proof_offline(token, keys)["kid"] for token in moved.proofs]
    assert kids == [moved.kids[0], moved.kids[0], moved.kids[1], moved.kids[1]]
    listed = [k["kid"] for k in httpx.get(f"{moved.server.url}/v1/public-keys").json()["keys"]]
    assert set(moved.kids) <= set(listed)


def test_a_request_sent_before_the_move_is_still_a_replay(moved: Moved) -> None:
    raw, headers = moved.replayable
    again = httpx.post(f"{moved.server.url}/v1/authorize", content=raw, headers=headers)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "NONCE_REPLAY"


def test_keys_rotate_after_the_move(moved: Moved) -> None:
    new_kid = moved.server.admin("POST", "/v1/admin/keys/rotate")["kid"]
    deadline = asyncio.run(_until_signed_with(moved, new_kid))
    assert deadline, "every worker signs with the new key within a second"


async def _until_signed_with(moved: Moved, kid: str) -> bool:
    keys = PublicKeyCache(moved.server.url)
    for _ in range(20):
        proofs = [_buy(moved.server, moved.creds, 0)["proof_token"] for _ in range(4)]
        if all(verify_proof_offline(p, keys)["kid"] == kid for p in proofs):
            return True
        await asyncio.sleep(0.1)
    return False


def test_a_second_copy_into_the_same_database_is_refused(moved: Moved) -> None:
    again = run_cli(
        moved.server.data_dir, "migrate-store", "--to", moved.database, check=False, env=ON_SQLITE
    )
    assert again.returncode == 1
    assert "the target database is not empty" in again.stderr


def test_audit_verify_passes_on_postgresql_then_fails_on_an_edited_record(moved: Moved) -> None:
    # Runs last: it edits the log.
    records = _audit_records(moved.server, moved.on_postgres)
    assert records > moved.records_before  # the decisions made since were chained on
    asyncio.run(_edit_record(moved.database, 3))
    failed = run_cli(moved.server.data_dir, "audit", "verify", check=False, env=moved.on_postgres)
    assert failed.returncode == 1
    assert "FAILED at record 3 (edited)" in failed.stderr


async def _edit_record(url: str, seq: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        changed = await conn.execute(
            "UPDATE audit_events SET timestamp = '2020-01-01T00:00:00.000Z' WHERE seq = $1", seq
        )
        assert changed == "UPDATE 1"
    finally:
        await conn.close()
