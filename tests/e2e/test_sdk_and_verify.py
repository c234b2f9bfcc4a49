"""The agent SDK, the guard and a counterparty's verifier against a real server on loopback
(2 worker processes), with the owner answering from another thread as a person would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from openleash.client import (
    ActionDenied,
    ApiError,
    ApprovalRequired,
    AsyncClient,
    Client,
    Guard,
    bind_request,
    current_proof,
    guard,
    proof_headers,
)
from openleash.verify import (
    INVALID_PROOF,
    PROOF_ACTION_MISMATCH,
    PROOF_COUNTERPARTY_MISMATCH,
    PROOF_REPLAYED,
    ProofRejected,
    ProofVerifier,
    VerifiedProof,
    install,
    require_proof,
)
from tests.support.live import Credentials, LiveServer, free_port, provision
from tests.support.owner_http import Owner

pytestmark = pytest.mark.e2e

#: The counterparty service of these tests: the actions name it, the verifiers are it.
SHOP = "shop.example"

POLICY = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    proof: { required: true }
  - id: large_purchases
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: no_messages
    effect: deny
    action: communication.*
    description: The agent does not write on the owner's behalf
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    root: Path = tmp_path_factory.mktemp("sdk-verify")
    live = LiveServer(root, free_port(), workers=2)
    creds = provision(live.data_dir, POLICY)
    live.start()
    yield live, creds
    live.stop()


@pytest.fixture(scope="module")
def owner(server: tuple[LiveServer, Credentials]) -> Owner:
    live, creds = server
    return Owner(live, creds.owner_id)


@pytest.fixture
def client(server: tuple[LiveServer, Credentials]) -> Iterator[Client]:
    live, creds = server
    with Client(live.url, creds.agent_id, creds.private_key_b64) as agent:
        yield agent


def fast_guard(client: Client, **options: Any) -> Guard:
    return Guard(client, "purchase", poll_interval=0.1, max_poll_interval=0.5, **options)


def test_the_client_covers_every_agent_endpoint(client: Client) -> None:
    me = client.agent_self()
    assert me.agent_id == client.agent_id
    assert client.owner_id() == me.owner_id
    keys = client.public_keys()
    assert keys
    assert all(not key.revoked for key in keys)
    usage = client.usage()
    assert usage.agent_id == client.agent_id
    assert usage.policy_hash

    allowed = client.authorize(client.new_action("purchase", {"amount_minor": 500}))
    assert allowed.allowed
    assert allowed.proof_token
    assert allowed.matched_rule_id == "small_purchases"
    denied = client.authorize(client.new_action("communication.email", {"to": "x@example.com"}))
    assert denied.denied
    assert denied.matched_rule_id == "no_messages"
    held = client.authorize(client.new_action("purchase", {"amount_minor": 50_000}))
    assert held.needs_approval
    assert held.obligations[0].type == "HUMAN_APPROVAL"

    draft = client.create_policy_draft(POLICY, name="same again", justification="testing")
    assert draft.status == "PENDING"
    assert draft.policy_draft_id in [d.policy_draft_id for d in client.list_policy_drafts()]
    assert client.list_policy_drafts("APPROVED") == []
    assert client.get_policy_draft(draft.policy_draft_id).policy_yaml == POLICY

    with pytest.raises(ApiError) as caught:
        client.authorize({"action_type": "purchase"})
    assert (caught.value.code, caught.value.status) == ("INVALID_ACTION_REQUEST", 400)
    with pytest.raises(ApiError) as missing:
        client.get_approval_request("00000000-0000-0000-0000-000000000000")
    assert (missing.value.code, missing.value.status) == ("NOT_FOUND", 404)


def test_the_async_client(server: tuple[LiveServer, Credentials]) -> None:
    live, creds = server

    async def run() -> None:
        async with AsyncClient(live.url, creds.agent_id, creds.private_key_b64) as agent:
            decision = await agent.authorize(
                await agent.new_action("purchase", {"amount_minor": 1})
            )
            assert decision.allowed
            assert (await agent.usage()).agent_id == creds.agent_id

    asyncio.run(run())


def test_guard_on_allow_passes_the_proof(
    client: Client, server: tuple[LiveServer, Credentials]
) -> None:
    live, _ = server

    @guard(
        client,
        "purchase",
        payload=lambda item, amount: {"amount_minor": amount, "currency": "USD", "item": item},
        relying_party={"domain": SHOP},
        proof_param="proof",
    )
    def buy(item: str, amount: int, proof: str | None = None) -> tuple[str | None, str | None]:
        return proof, current_proof()

    proof, current = buy("tea", 450)
    assert proof is not None
    assert proof == current
    verified = ProofVerifier(live.url, audience=SHOP).verify(
        proof, action_type="purchase", agent_id=client.agent_id
    )
    assert verified.claims["matched_rule_id"] == "small_purchases"


def test_guard_on_deny_raises(client: Client) -> None:
    ran: list[int] = []

    @guard(client, "communication.email")
    def send(to: str) -> None:
        ran.append(1)

    with pytest.raises(ActionDenied) as caught:
        send("someone@example.com")
    assert ran == []
    assert caught.value.decision is not None
    assert caught.value.decision.matched_rule_id == "no_messages"


def test_guard_waits_for_the_owner_and_runs_with_the_approved_proof(
    client: Client, owner: Owner, server: tuple[LiveServer, Credentials]
) -> None:
    live, _ = server
    approver = owner.approve_next()

    @fast_guard(
        client,
        justification=lambda amount_minor: f"a {amount_minor} purchase",
        relying_party={"domain": SHOP},
    )
    def buy(amount_minor: int) -> str | None:
        return current_proof()

    proof = buy(50_000)
    approver.join(timeout=30)
    assert not approver.errors
    assert proof is not None
    claims = ProofVerifier(live.url, audience=SHOP).verify(proof, action_type="purchase").claims
    assert claims["approval_request_id"]
    assert claims["approved_by"] == owner_id_of(server)


def owner_id_of(server: tuple[LiveServer, Credentials]) -> str:
    return server[1].owner_id


def test_guard_raises_approval_required_and_the_agent_resumes_later(
    client: Client, owner: Owner
) -> None:
    with pytest.raises(ApprovalRequired) as caught:
        fast_guard(client, on_approval="raise").authorize(amount_minor=60_000)
    held = caught.value
    assert held.approval_request_id is not None
    owner.approve(held.approval_request_id)
    approved = client.wait_for_approval(held.approval_request_id, timeout=20, interval=0.1)
    assert approved.approved
    assert approved.approval_token
    decision = client.authorize(held.action, approval_token=approved.approval_token)
    assert decision.allowed
    assert decision.approval is not None
    # One approval, one action.
    with pytest.raises(ApiError) as again:
        client.authorize(held.action, approval_token=approved.approval_token)
    assert again.value.code == "APPROVAL_TOKEN_CONSUMED"


def test_verifier_refuses_replays_other_actions_and_other_tokens(
    client: Client, owner: Owner, server: tuple[LiveServer, Credentials]
) -> None:
    live, _ = server
    verifier = ProofVerifier(live.url, audience=SHOP)
    action = client.new_action("purchase", {"amount_minor": 700, "merchant_domain": SHOP})
    proof = client.authorize(action).proof_token
    assert proof is not None
    other = client.new_action("purchase", {"amount_minor": 700, "merchant_domain": SHOP})
    with pytest.raises(ProofRejected) as mismatch:
        verifier.verify(proof, action=other, action_type="purchase")
    assert (mismatch.value.code, mismatch.value.status) == (PROOF_ACTION_MISMATCH, 403)
    with pytest.raises(ProofRejected) as elsewhere:
        ProofVerifier(live.url, audience="bank.example").verify(
            proof, action=action, action_type="purchase"
        )
    assert (elsewhere.value.code, elsewhere.value.status) == (PROOF_COUNTERPARTY_MISMATCH, 403)
    assert verifier.verify(proof, action=action, action_type="purchase").action == action
    with pytest.raises(ProofRejected) as replay:
        verifier.verify(proof, action=action, action_type="purchase")
    assert replay.value.code == PROOF_REPLAYED

    with pytest.raises(ProofRejected) as session:
        verifier.verify(owner.token, action_type="purchase")
    assert (session.value.code, session.value.message) == (INVALID_PROOF, "Invalid token purpose")

    held_action = client.new_action("purchase", {"amount_minor": 70_000})
    held = client.authorize(held_action)
    filed = client.create_approval_request(held.decision_id, held_action)
    approval_token = owner.approve(filed.approval_request_id)["approval_token"]
    with pytest.raises(ProofRejected) as approval:
        verifier.verify(approval_token, action_type="purchase")
    assert approval.value.message == "Invalid token purpose"


def test_a_counterparty_service_accepts_a_bound_proof_once(
    client: Client, server: tuple[LiveServer, Credentials]
) -> None:
    live, _ = server
    shop = FastAPI()
    install(shop, ProofVerifier(live.url, audience=SHOP))

    @shop.post("/orders")
    async def order(
        proof: Annotated[VerifiedProof, Depends(require_proof("purchase"))],
    ) -> dict[str, Any]:
        return {"accepted": proof.decision_id, "amount": proof.payload["amount_minor"]}

    body = b'{"sku":"tea","quantity":3}'
    action = bind_request(
        client.new_action("purchase", {"amount_minor": 900, "merchant_domain": SHOP}),
        "POST",
        "/orders",
        body,
    )
    decision = client.authorize(action)
    assert decision.proof_token
    headers = {**proof_headers(decision.proof_token, action), "Content-Type": "application/json"}

    async def post(content: bytes) -> httpx.Response:
        transport = httpx.ASGITransport(app=shop)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
            return await http.post("/orders", content=content, headers=headers)

    tampered = asyncio.run(post(b'{"sku":"tea","quantity":300}'))
    assert tampered.status_code == 403
    assert tampered.json()["error"]["code"] == "PROOF_REQUEST_MISMATCH"
    accepted = asyncio.run(post(body))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"accepted": decision.decision_id, "amount": 900}
    replayed = asyncio.run(post(body))
    assert replayed.status_code == 403
    assert replayed.json()["error"]["code"] == PROOF_REPLAYED


def refusal_of(live: LiveServer, token: str) -> ProofRejected | None:
    try:
        ProofVerifier(live.url, audience=SHOP).verify(token, action_type="purchase", consume=False)
    except ProofRejected as exc:
        return exc
    return None


def test_a_revoked_key_verifies_nothing(
    client: Client, server: tuple[LiveServer, Credentials]
) -> None:
    live, _ = server
    old_proof = client.authorize(
        client.new_action("purchase", {"amount_minor": 10, "merchant_domain": SHOP})
    ).proof_token
    assert old_proof is not None
    old_kid = next(k.kid for k in client.public_keys())
    rotated = live.admin("POST", "/v1/admin/keys/rotate")
    assert rotated["kid"] != old_kid
    time.sleep(0.5)  # each worker re-reads the keys within its refresh interval (0.1 s)
    # Still valid after a rotation: proofs of the previous key verify until it is revoked.
    ProofVerifier(live.url, audience=SHOP).verify(old_proof, action_type="purchase", consume=False)
    live.admin("POST", f"/v1/admin/keys/{old_kid}/revoke")
    # A fresh verifier fetches the keys each time; every worker sees the revocation within
    # its refresh interval.
    deadline = time.monotonic() + 10
    refusal = refusal_of(live, old_proof)
    while refusal is None and time.monotonic() < deadline:
        time.sleep(0.2)
        refusal = refusal_of(live, old_proof)
    assert refusal is not None, "the revocation never showed"
    assert (refusal.code, refusal.message) == (INVALID_PROOF, "Key revoked")
    fresh = client.authorize(
        client.new_action("purchase", {"amount_minor": 10, "merchant_domain": SHOP})
    ).proof_token
    assert fresh is not None
    fresh_claims = ProofVerifier(live.url, audience=SHOP).verify(fresh, action_type="purchase")
    assert fresh_claims.claims["kid"] == rotated["kid"]
