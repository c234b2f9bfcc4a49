"""Two servers (replicas) over one PostgreSQL database keep every guarantee one server keeps:
a signed request is accepted once, a budget is never overrun, an approval is used once, a
policy change or a key rotation or revocation made through one is in force on the other within
a second, and the audit log stays one chain.

Skips when no PostgreSQL server is reachable (``OPENLEASH_TEST_POSTGRES_URL``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from openleash.client import AgentAuth
from tests.contract import _postgres
from tests.support.actions import action
from tests.support.live import Credentials, LiveServer, free_port, owner_login, provision, run_cli

pytestmark = pytest.mark.e2e

POLICY = """\
version: 1
default: deny
rules:
  - id: daily_budget
    effect: allow
    action: purchase
    limits:
      - spend: 10000
        window: 24h
    proof: { required: true, ttl_seconds: 600 }
  - id: transfers_ask_me
    effect: allow
    action: transfer
    obligations: [{ type: HUMAN_APPROVAL }]
"""
CHANGED = (
    POLICY
    + """\
  - id: messages
    effect: allow
    action: email.send
"""
)
#: What the servers promise: a change made through one replica is in force on every other
#: within this (they look at the store's revision every 0.1 s).
PROPAGATION_SECONDS = 1.0
TIMEOUT = httpx.Timeout(30.0)


@dataclass
class Replicas:
    a: LiveServer
    b: LiveServer
    creds: Credentials
    database: str
    env: dict[str, str]

    @property
    def auth(self) -> AgentAuth:
        return AgentAuth(self.creds.agent_id, self.creds.private_key_b64)

    def action(self, action_type: str = "purchase", **payload: Any) -> dict[str, Any]:
        return action(self.creds.agent_id, self.creds.owner_id, action_type, **payload)


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


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Replicas]:
    env = {"OPENLEASH_DATABASE_URL": database}
    root: Path = tmp_path_factory.mktemp("replicas")
    (root / "a").mkdir()
    (root / "b").mkdir()
    a = LiveServer(root / "a", free_port(), workers=2, env=env)
    b = LiveServer(root / "b", free_port(), workers=1, env=env)
    creds = provision(a.data_dir, POLICY, env=env)
    try:
        a.start()
        b.start()
        yield Replicas(a, b, creds, database, env)
    finally:
        b.stop()
        a.stop()


def _signed(auth: AgentAuth, path: str, body: Any) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, {"Content-Type": "application/json", **auth.sign_headers("POST", path, raw)}


def _post(server: LiveServer, path: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", content=raw, headers=headers, timeout=TIMEOUT)


def _authorize(server: LiveServer, auth: AgentAuth, body: dict[str, Any]) -> dict[str, Any]:
    response = _post(server, "/v1/authorize", *_signed(auth, "/v1/authorize", body))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _race(
    requests: list[tuple[LiveServer, bytes, dict[str, str]]],
) -> list[tuple[int, Any]]:
    """Send every request at once (each to its own server); status and body of each."""
    async with httpx.AsyncClient(
        timeout=TIMEOUT, limits=httpx.Limits(max_connections=64)
    ) as client:

        async def one(server: LiveServer, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            response = await client.post(f"{server.url}/v1/authorize", content=raw, headers=headers)
            return response.status_code, response.json()

        return list(await asyncio.gather(*(one(*request) for request in requests)))


def _outcomes(results: list[tuple[int, Any]]) -> Counter[str]:
    return Counter(
        body["result"] if status == 200 else body["error"]["code"] for status, body in results
    )


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """How long ``check`` took to hold (asked every 20 ms); fails the test after ``seconds``."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            pytest.fail(f"not in force within {seconds} s")
        time.sleep(0.02)


def test_a_request_accepted_by_one_replica_is_a_replay_on_the_other(replicas: Replicas) -> None:
    raw, headers = _signed(replicas.auth, "/v1/authorize", replicas.action(amount_minor=0))
    assert _post(replicas.a, "/v1/authorize", raw, headers).status_code == 200
    replayed = _post(replicas.b, "/v1/authorize", raw, headers)
    assert replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "NONCE_REPLAY"
    # Sent to both at once, a fresh one is still accepted exactly once.
    raw, headers = _signed(replicas.auth, "/v1/authorize", replicas.action(amount_minor=0))
    both = asyncio.run(_race([(server, raw, headers) for server in (replicas.a, replicas.b) * 5]))
    assert _outcomes(both) == {"ALLOW": 1, "NONCE_REPLAY": 9}


def test_concurrent_purchases_over_both_replicas_never_overrun_the_budget(
    replicas: Replicas,
) -> None:
    requests = [
        (server, *_signed(replicas.auth, "/v1/authorize", replicas.action(amount_minor=100)))
        for server in (replicas.a, replicas.b) * 150
    ]
    results = asyncio.run(_race(requests))
    assert _outcomes(results) == {"ALLOW": 100, "DENY": 200}
    assert _authorize(replicas.b, replicas.auth, replicas.action(amount_minor=1))["result"] == (
        "DENY"
    )


def test_an_approval_raced_over_both_replicas_is_used_once(replicas: Replicas) -> None:
    auth = replicas.auth
    held = replicas.action("transfer", amount_minor=4000, currency="USD")
    decision = _authorize(replicas.a, auth, held)
    assert decision["result"] == "REQUIRE_APPROVAL"
    path = "/v1/agent/approval-requests"
    filed = _post(
        replicas.a,
        path,
        *_signed(auth, path, {"decision_id": decision["decision_id"], "action": held}),
    ).json()
    # Approved through the other replica.
    owner = {"Authorization": f"Bearer {owner_login(replicas.b, replicas.creds.owner_id)}"}
    answer = httpx.post(
        f"{replicas.b.url}/v1/owner/approval-requests/{filed['approval_request_id']}/approve",
        json={},
        headers=owner,
        timeout=TIMEOUT,
    ).json()
    body = {**held, "approval_token": answer["approval_token"]}
    requests = [
        (server, *_signed(auth, "/v1/authorize", body)) for server in (replicas.a, replicas.b) * 10
    ]
    assert _outcomes(asyncio.run(_race(requests))) == {"ALLOW": 1, "APPROVAL_TOKEN_CONSUMED": 19}


def test_a_policy_change_through_one_replica_is_in_force_on_the_other(
    replicas: Replicas,
) -> None:
    message = replicas.action("email.send", to="a@b.example")
    assert _authorize(replicas.b, replicas.auth, message)["result"] == "DENY"
    owner = {"Authorization": f"Bearer {owner_login(replicas.a, replicas.creds.owner_id)}"}
    listed = httpx.get(f"{replicas.a.url}/v1/owner/policies", headers=owner, timeout=TIMEOUT)
    (policy,) = listed.json()["policies"]
    changed = httpx.put(
        f"{replicas.a.url}/v1/owner/policies/{policy['policy_id']}",
        json={"policy_yaml": CHANGED},
        headers=owner,
        timeout=TIMEOUT,
    )
    assert changed.status_code == 200, changed.text
    _within(
        PROPAGATION_SECONDS,
        lambda: (
            _authorize(replicas.b, replicas.auth, replicas.action("email.send"))["result"]
            == "ALLOW"
        ),
    )


def test_a_key_rotation_and_revocation_through_one_replica_are_in_force_on_the_other(
    replicas: Replicas,
) -> None:
    old = _authorize(replicas.b, replicas.auth, replicas.action(amount_minor=0))
    old_kid = _kid(replicas.b, old["proof_token"])
    new_kid = replicas.a.admin("POST", "/v1/admin/keys/rotate")["kid"]
    assert new_kid != old_kid

    def signs_with_new_key() -> bool:
        proof = _authorize(replicas.b, replicas.auth, replicas.action(amount_minor=0))
        return _kid(replicas.b, proof["proof_token"]) == new_kid

    _within(PROPAGATION_SECONDS, signs_with_new_key)

    assert replicas.a.admin("POST", f"/v1/admin/keys/{old_kid}/revoke")["revoked"] is True

    def old_proofs_refused() -> bool:
        verdict = replicas.b.admin("POST", "/v1/verify-proof", json={"token": old["proof_token"]})
        return verdict["valid"] is False

    _within(PROPAGATION_SECONDS, old_proofs_refused)
    keys = {k["kid"]: k for k in replicas.b.admin("GET", "/v1/public-keys")["keys"]}
    assert keys[old_kid]["revoked_at"] is not None
    assert keys[new_kid]["revoked_at"] is None


def _kid(server: LiveServer, token: str) -> str:
    verdict = server.admin("POST", "/v1/verify-proof", json={"token": token})
    assert verdict["valid"], verdict
    return str(verdict["claims"]["kid"])


def test_the_audit_log_is_one_chain_that_verifies(replicas: Replicas) -> None:
    # Runs last, after both replicas wrote everything above.
    out = run_cli(replicas.a.data_dir, "audit", "verify", "--json", env=replicas.env)
    report = json.loads(out.stdout)
    assert report["ok"], report
    assert report["records"] > 300
    assert report["checkpoints_verified"] >= 1
