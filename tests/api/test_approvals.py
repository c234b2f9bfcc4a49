"""Approval requests end to end in-process: held decision -> request -> owner answer -> token ->
the approval-token path of /v1/authorize (PROTOCOL §3.9, §3.12)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openleash.config import Settings
from openleash.crypto import verify_token
from tests.api.conftest import Agent, Api, new_agent_keys, running_api, upsert
from tests.api.owners import PASSPHRASE, Owner, owner_session

APPROVAL_POLICY = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 20000 }
    limits:
      - spend: 60000
        window: 30d
  - id: large
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: gov
    effect: allow
    action: government.submit
    requirements: { min_assurance_level: SUBSTANTIAL }
  - id: gov_high
    effect: allow
    action: government.sign
    requirements: { min_assurance_level: HIGH }
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", admin_token="s3cret-admin-token")
    for running in running_api(settings):
        _replace_policies(running, APPROVAL_POLICY)
        yield running


def _replace_policies(api: Api, policy_yaml: str) -> None:
    """Make ``policy_yaml`` the owner's only policy."""
    for p in api.client.get("/v1/admin/policies").json()["policies"]:
        api.run(api.services.policies.delete(p["policy_id"]))
    api.run(upsert(api.services, api.agent.owner_id, policy_yaml))


def _authorize(api: Api, action: dict[str, Any], agent: Agent | None = None, **extra: Any) -> Any:
    body = json.dumps({**action, **extra}).encode()
    return api.signed("POST", "/v1/authorize", body, agent=agent)


def _file_request(
    api: Api, decision: dict[str, Any], action: dict[str, Any], agent: Agent | None = None
) -> Any:
    body = {"decision_id": decision["decision_id"], "action": action, "justification": "needed"}
    return api.signed("POST", "/v1/agent/approval-requests", json.dumps(body).encode(), agent=agent)


def _agent_view(api: Api, request_id: str, agent: Agent | None = None) -> Any:
    return api.signed("GET", f"/v1/agent/approval-requests/{request_id}", agent=agent)


def _held(api: Api, amount: int = 50_000) -> tuple[dict[str, Any], dict[str, Any]]:
    action = api.agent.action(amount_minor=amount, currency="EUR")
    decision = _authorize(api, action).json()
    assert decision["result"] == "REQUIRE_APPROVAL", decision
    return action, decision


def _approved(api: Api, owner: Owner, **body: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    answer = owner.post(f"/v1/owner/approval-requests/{request_id}/approve", body)
    assert answer.status_code == 200, answer.text
    return action, request_id, answer.json()


def test_an_approved_action_is_allowed_once_with_provenance_in_the_proof(api: Api) -> None:
    owner = owner_session(api)
    action, decision = _held(api)
    filed = _file_request(api, decision, action)
    assert filed.status_code == 200, filed.text
    request_id = filed.json()["approval_request_id"]
    assert filed.json()["status"] == "PENDING"

    inbox = owner.get("/v1/owner/approval-requests?status=PENDING").json()["approval_requests"]
    [shown] = inbox
    assert shown["approval_request_id"] == request_id
    assert shown["action"] == action
    assert shown["matched_rule_id"] == "large"
    assert shown["justification"] == "needed"
    assert "REQUIRE_APPROVAL" in shown["reason"]

    answer = owner.post(f"/v1/owner/approval-requests/{request_id}/approve").json()
    assert answer["status"] == "APPROVED"
    assert answer["assurance_level"] == "LOW"

    polled = _agent_view(api, request_id).json()
    assert polled["status"] == "APPROVED"
    assert polled["approval_token"] == answer["approval_token"]

    allowed = _authorize(api, action, approval_token=polled["approval_token"]).json()
    assert allowed["result"] == "ALLOW"
    assert allowed["reason"] == "Approved by owner"
    keyring = api.run(api.services.runtime.snapshot()).keyring
    claims = verify_token(allowed["proof_token"], keyring, now=api.clock(), purpose="proof")
    assert claims["approval_request_id"] == request_id
    assert claims["approved_by"] == owner.owner_id
    assert claims["approved_at"] == polled["resolved_at"]
    assert claims["assurance_level"] == "LOW"
    assert claims["action_hash"] == decision["action_hash"]

    again = _authorize(api, action, approval_token=polled["approval_token"])
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "APPROVAL_TOKEN_CONSUMED"


def test_the_approved_action_counts_towards_the_budget(api: Api) -> None:
    owner = owner_session(api)
    action, _, answer = _approved(api, owner)
    fits = api.agent.action(amount_minor=15_000, currency="EUR")
    assert _authorize(api, fits).json()["result"] == "ALLOW"  # 15k of the 60k budget
    assert _authorize(api, action, approval_token=answer["approval_token"]).json()["result"] == (
        "ALLOW"
    )
    # 15k + the approved 50k: another 15k no longer fits the budget, so the owner is asked
    assert (
        _authorize(api, api.agent.action(amount_minor=15_000, currency="EUR")).json()["result"]
        == "REQUIRE_APPROVAL"
    )


def test_a_request_must_name_a_held_decision_of_this_agent_and_action(api: Api) -> None:
    action, decision = _held(api)
    unknown = _file_request(api, {"decision_id": "no-such-decision"}, action)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "DECISION_NOT_FOUND"
    other_action = {**action, "payload": {**action["payload"], "amount_minor": 60_000}}
    mismatch = _file_request(api, decision, other_action)
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["code"] == "DECISION_MISMATCH"
    small = api.agent.action(amount_minor=10, currency="EUR")
    allowed = _authorize(api, small).json()
    assert allowed["result"] == "ALLOW"
    not_held = _file_request(api, allowed, small)
    assert not_held.json()["error"]["code"] == "DECISION_NOT_FOUND"
    # a retry of the same request returns the one already filed
    first = _file_request(api, decision, action).json()
    assert _file_request(api, decision, action).json() == first


def test_another_agent_can_neither_file_for_nor_use_an_approval(api: Api) -> None:
    owner = owner_session(api)
    public, private = new_agent_keys()
    other = Agent("agent-2", owner.owner_id, private, public)
    invite = owner.post("/v1/owner/agent-invites").json()
    registered = api.client.post(
        "/v1/agents/register-with-invite",
        json={
            "invite_id": invite["invite_id"],
            "invite_token": invite["invite_token"],
            "agent_id": "agent-2",
            "agent_pubkey_b64": public,
        },
    )
    assert registered.status_code == 200, registered.text
    action, decision = _held(api)
    stolen = _file_request(api, decision, action, agent=other)
    assert stolen.json()["error"]["code"] in ("DECISION_NOT_FOUND", "AGENT_MISMATCH")
    action, request_id, answer = _approved(api, owner)
    assert _agent_view(api, request_id, agent=other).status_code == 404
    theirs = other.action(amount_minor=50_000, currency="EUR")
    used = _authorize(api, theirs, agent=other, approval_token=answer["approval_token"])
    assert used.status_code in (400, 403)
    assert used.json()["error"]["code"] in ("AGENT_MISMATCH", "ACTION_HASH_MISMATCH")
    changed = {**action, "payload": {**action["payload"], "amount_minor": 99_000}}
    wrong = _authorize(api, changed, approval_token=answer["approval_token"])
    assert wrong.json()["error"]["code"] == "ACTION_HASH_MISMATCH"
    # neither attempt used it up
    assert _authorize(api, action, approval_token=answer["approval_token"]).json()["result"] == (
        "ALLOW"
    )


def test_a_forged_or_foreign_token_is_refused(api: Api) -> None:
    action, _ = _held(api)
    forged = _authorize(api, action, approval_token="v4.public.not-a-token")
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "INVALID_APPROVAL_TOKEN"
    proof = _authorize(api, api.agent.action(amount_minor=5, currency="EUR")).json()
    assert proof["result"] == "ALLOW"


def test_requests_expire_and_expired_ones_cannot_be_approved(api: Api) -> None:
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    api.clock.advance(api.services.options.approval_request_ttl_seconds + 1)
    owner = owner_session(api)
    expired = owner.post(f"/v1/owner/approval-requests/{request_id}/approve")
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "REQUEST_EXPIRED"
    assert _agent_view(api, request_id).json()["status"] == "EXPIRED"
    listed = owner.get("/v1/owner/approval-requests?status=EXPIRED").json()
    assert [r["approval_request_id"] for r in listed["approval_requests"]] == [request_id]
    agent = listed["approval_requests"][0]["agent_principal_id"]
    mine = owner.get(f"/v1/owner/approval-requests?agent_principal_id={agent}").json()
    assert [r["approval_request_id"] for r in mine["approval_requests"]] == [request_id]
    other = owner.get("/v1/owner/approval-requests?agent_principal_id=someone-else").json()
    assert other["approval_requests"] == []


def test_a_denial_reaches_the_agent_and_cannot_be_approved_after(api: Api) -> None:
    owner = owner_session(api)
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    denied = owner.post(
        f"/v1/owner/approval-requests/{request_id}/deny", {"reason": "too expensive"}
    )
    assert denied.json() == {"approval_request_id": request_id, "status": "DENIED"}
    seen = _agent_view(api, request_id).json()
    assert seen["status"] == "DENIED"
    assert seen["denial_reason"] == "too expensive"
    assert "approval_token" not in seen
    late = owner.post(f"/v1/owner/approval-requests/{request_id}/approve")
    assert late.json()["error"]["code"] == "INVALID_STATUS"


def test_another_owner_cannot_see_or_answer(api: Api) -> None:
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    created = api.client.post("/v1/admin/users", json={"display_name": "Mallory"}).json()
    mallory = owner_session(api, created["user_principal_id"])
    assert mallory.get(f"/v1/owner/approval-requests/{request_id}").status_code == 404
    refused = mallory.post(f"/v1/owner/approval-requests/{request_id}/approve")
    assert refused.status_code == 404
    assert mallory.get("/v1/owner/approval-requests").json() == {"approval_requests": []}


def test_totp_is_required_to_answer_once_enabled(api: Api) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    missing = owner.post(f"/v1/owner/approval-requests/{request_id}/approve")
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "TOTP_REQUIRED"
    wrong = owner.post(f"/v1/owner/approval-requests/{request_id}/approve", {"totp_code": "1"})
    assert wrong.json()["error"]["code"] == "TOTP_REQUIRED"
    ok = owner.post(
        f"/v1/owner/approval-requests/{request_id}/approve", {"totp_code": owner.code()}
    )
    assert ok.status_code == 200
    assert ok.json()["assurance_level"] == "SUBSTANTIAL"


def test_step_up_needs_the_owners_second_factor_not_the_payload(api: Api) -> None:
    owner = owner_session(api)
    action = api.agent.action(document="tax-return", assurance_level="HIGH")
    action["action_type"] = "government.submit"
    decision = _authorize(api, action).json()
    assert decision["result"] == "REQUIRE_STEP_UP"
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    shown = owner.get(f"/v1/owner/approval-requests/{request_id}").json()
    assert shown["kind"] == "step_up"
    assert shown["min_assurance_level"] == "SUBSTANTIAL"
    no_totp = owner.post(f"/v1/owner/approval-requests/{request_id}/approve")
    assert no_totp.status_code == 403
    assert no_totp.json()["error"]["code"] == "TOTP_SETUP_REQUIRED"
    owner.enable_totp()
    answer = owner.post(
        f"/v1/owner/approval-requests/{request_id}/approve", {"totp_code": owner.code()}
    ).json()
    assert answer["assurance_level"] == "SUBSTANTIAL"
    allowed = _authorize(api, action, approval_token=answer["approval_token"]).json()
    assert allowed["result"] == "ALLOW"
    assert allowed["approval"]["assurance_level"] == "SUBSTANTIAL"
    keyring = api.run(api.services.runtime.snapshot()).keyring
    claims = verify_token(allowed["proof_token"], keyring, now=api.clock(), purpose="proof")
    assert claims["assurance_level"] == "SUBSTANTIAL"


def test_high_step_up_needs_the_passphrase_as_well(api: Api) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    action = api.agent.action(document="deed")
    action["action_type"] = "government.sign"
    decision = _authorize(api, action).json()
    assert decision["result"] == "REQUIRE_STEP_UP"
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    path = f"/v1/owner/approval-requests/{request_id}/approve"
    code_only = owner.post(path, {"totp_code": owner.code()})
    assert code_only.status_code == 403
    assert code_only.json()["error"]["code"] == "STEP_UP_REQUIRED"
    wrong = owner.post(path, {"totp_code": owner.code(), "passphrase": "wrong wrong wrong"})
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    answer = owner.post(path, {"totp_code": owner.code(), "passphrase": PASSPHRASE}).json()
    assert answer["assurance_level"] == "HIGH"
    allowed = _authorize(api, action, approval_token=answer["approval_token"]).json()
    assert allowed["result"] == "ALLOW"


def test_an_approval_does_not_override_a_policy_that_now_denies(api: Api) -> None:
    owner = owner_session(api)
    action, _, answer = _approved(api, owner)
    _replace_policies(api, "version: 1\ndefault: deny\nrules: []\n")
    refused = _authorize(api, action, approval_token=answer["approval_token"]).json()
    assert refused["result"] == "DENY"


def test_approving_queues_a_webhook_for_an_agent_that_has_one(api: Api) -> None:
    owner = owner_session(api)
    public, private = new_agent_keys()
    invite = owner.post("/v1/owner/agent-invites").json()
    api.client.post(
        "/v1/agents/register-with-invite",
        json={
            "invite_id": invite["invite_id"],
            "invite_token": invite["invite_token"],
            "agent_id": "hooked",
            "agent_pubkey_b64": public,
            "webhook_url": "https://hooks.example.com/openleash",
            "webhook_secret": "whsec-hooked-0123456789",
            "webhook_auth_token": "auth-hooked",
        },
    )
    hooked = Agent("hooked", owner.owner_id, private, public)
    action = hooked.action(amount_minor=50_000, currency="EUR")
    decision = _authorize(api, action, agent=hooked).json()
    request_id = _file_request(api, decision, action, agent=hooked).json()["approval_request_id"]
    owner.post(f"/v1/owner/approval-requests/{request_id}/approve")

    async def outbox() -> list[Any]:
        async with api.services.store.read() as tx:
            return await tx.due_webhooks(10**15, 10)

    [queued] = api.run(outbox())
    assert queued.event_type == "approval_request.approved"
    assert queued.data["approval_request_id"] == request_id
    assert "approval_token" not in queued.data  # added when sent, never stored


def test_policy_drafts_from_agent_to_bound_policy(api: Api) -> None:
    owner = owner_session(api)
    bad = api.signed(
        "POST", "/v1/agent/policy-drafts", json.dumps({"policy_yaml": "version: 2"}).encode()
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "INVALID_POLICY"
    draft_yaml = "version: 1\ndefault: allow\nrules: []\n"
    created = api.signed(
        "POST",
        "/v1/agent/policy-drafts",
        json.dumps({"policy_yaml": draft_yaml, "name": "  loose  "}).encode(),
    ).json()
    draft_id = created["policy_draft_id"]
    # the official SDKs sign the path with its query string
    listed = api.signed(
        "GET",
        "/v1/agent/policy-drafts?status=PENDING",
        sign_path="/v1/agent/policy-drafts?status=PENDING",
    )
    assert listed.status_code == 200, listed.text
    assert [d["policy_draft_id"] for d in listed.json()["policy_drafts"]] == [draft_id]
    assert listed.json()["policy_drafts"][0]["name"] == "loose"
    approved = owner.post(f"/v1/owner/policy-drafts/{draft_id}/approve").json()
    assert approved["status"] == "APPROVED"
    policy = owner.get(f"/v1/owner/policies/{approved['policy_id']}").json()
    assert policy["policy_yaml"] == draft_yaml
    assert policy["tier"] == "agent"
    mine = api.signed("GET", f"/v1/agent/policy-drafts/{draft_id}").json()
    assert mine["resulting_policy_id"] == approved["policy_id"]
    twice = owner.post(f"/v1/owner/policy-drafts/{draft_id}/deny")
    assert twice.json()["error"]["code"] == "INVALID_STATUS"


def test_owner_policies_reorder_and_rebind(api: Api) -> None:
    owner = owner_session(api)
    first = owner.post(
        "/v1/owner/policies", {"policy_yaml": "version: 1\ndefault: passthrough\nrules: []\n"}
    ).json()
    listed = owner.get("/v1/owner/policies").json()["policies"]
    wide = [p["policy_id"] for p in listed if p["tier"] == "owner_wide"]
    assert first["policy_id"] in wide
    reordered = owner.put(
        "/v1/owner/policies/order",
        {"tier": "owner_wide", "ordered_policy_ids": list(reversed(wide))},
    )
    assert reordered.json() == {"reordered": len(wide)}
    ranks = {p["policy_id"]: p["rank"] for p in owner.get("/v1/owner/policies").json()["policies"]}
    assert ranks[wide[-1]] == 100
    partial = owner.put(
        "/v1/owner/policies/order", {"tier": "owner_wide", "ordered_policy_ids": wide[:1]}
    )
    assert partial.json()["error"]["code"] == "INVALID_BODY"
    agents = owner.get("/v1/owner/agents").json()["agents"]
    target = agents[0]["agent_principal_id"]
    rebound = owner.put(
        f"/v1/owner/policies/{first['policy_id']}", {"applies_to_agent_principal_id": target}
    )
    assert rebound.json()["status"] == "updated"
    assert owner.get(f"/v1/owner/policies/{first['policy_id']}").json()["tier"] == "agent"
    invalid = owner.put(f"/v1/owner/policies/{first['policy_id']}", {"policy_yaml": "rules: 7"})
    assert invalid.json()["error"]["code"] == "INVALID_POLICY"
    deleted = owner.delete(f"/v1/owner/policies/{first['policy_id']}")
    assert deleted.json()["status"] == "deleted"


def test_owner_audit_shows_only_the_owners_events(api: Api) -> None:
    owner = owner_session(api)
    _held(api)
    created = api.client.post("/v1/admin/users", json={"display_name": "Eve"}).json()
    eve = owner_session(api, created["user_principal_id"])
    mine = owner.get("/v1/owner/audit?limit=100").json()["items"]
    assert any(e["event_type"] == "DECISION_CREATED" for e in mine)
    assert all(e["metadata_json"].get("owner_id") == owner.owner_id for e in mine)
    theirs = eve.get("/v1/owner/audit?limit=100").json()["items"]
    assert not any(e["event_type"] == "DECISION_CREATED" for e in theirs)
    agent = owner.get("/v1/owner/agents").json()["agents"][0]["agent_principal_id"]
    forbidden = eve.get(f"/v1/owner/audit?agent_principal_id={agent}")
    assert forbidden.status_code == 403


def test_owner_revokes_an_agent(api: Api) -> None:
    owner = owner_session(api)
    agent = owner.get("/v1/owner/agents").json()["agents"][0]["agent_principal_id"]
    bad = owner.put(f"/v1/owner/agents/{agent}", {"status": "ACTIVE"})
    assert bad.status_code == 400
    revoked = owner.put(f"/v1/owner/agents/{agent}", {"status": "REVOKED"})
    assert revoked.json()["status"] == "REVOKED"
    refused = _authorize(api, api.agent.action(amount_minor=5, currency="EUR"))
    assert refused.status_code == 401


def test_guessing_the_second_factor_with_a_session_locks_second_factors(api: Api) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    path = f"/v1/owner/approval-requests/{request_id}/deny"
    codes = []
    for guess in range(api.services.options.factor_free_attempts):
        codes.append(owner.post(path, {"totp_code": f"{guess:06d}"}).json()["error"]["code"])
    assert codes == ["TOTP_REQUIRED"] * api.services.options.factor_free_attempts
    locked = owner.post(path, {"totp_code": owner.code(advance=False)})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "SECOND_FACTOR_LOCKED"
    api.clock.advance(api.services.options.login_lock_base_seconds + 1)
    assert owner.post(path, {"totp_code": owner.code()}).json()["status"] == "DENIED"


def test_guessing_the_passphrase_through_approve_locks_second_factors(api: Api) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    action = api.agent.action(document="deed")
    action["action_type"] = "government.sign"
    decision = _authorize(api, action).json()
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    path = f"/v1/owner/approval-requests/{request_id}/approve"
    for _ in range(api.services.options.factor_free_attempts):
        wrong = owner.post(path, {"totp_code": owner.code(), "passphrase": "a wrong passphrase"})
        assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    locked = owner.post(path, {"totp_code": owner.code(advance=False), "passphrase": PASSPHRASE})
    assert locked.json()["error"]["code"] == "SECOND_FACTOR_LOCKED"


def test_an_approval_that_also_asks_for_assurance_needs_the_second_factor(api: Api) -> None:
    owner = owner_session(api)
    _replace_policies(
        api,
        """\
version: 1
default: deny
rules:
  - id: big_and_sure
    effect: allow
    action: purchase
    requirements: { min_assurance_level: SUBSTANTIAL }
    obligations: [{ type: HUMAN_APPROVAL }]
""",
    )
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    path = f"/v1/owner/approval-requests/{request_id}/approve"
    assert owner.post(path).json()["error"]["code"] == "TOTP_SETUP_REQUIRED"
    owner.enable_totp()
    answer = owner.post(path, {"totp_code": owner.code()}).json()
    assert answer["assurance_level"] == "SUBSTANTIAL"
    allowed = _authorize(api, action, approval_token=answer["approval_token"]).json()
    assert allowed["result"] == "ALLOW"


def test_with_totp_on_policy_changes_need_a_code(api: Api) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    loose = "version: 1\ndefault: allow\nrules: []\n"
    refused = owner.post("/v1/owner/policies", {"policy_yaml": loose})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "TOTP_REQUIRED"
    created = owner.post("/v1/owner/policies", {"policy_yaml": loose, "totp_code": owner.code()})
    assert created.status_code == 200
    path = f"/v1/owner/policies/{created.json()['policy_id']}"
    assert owner.put(path, {"policy_yaml": loose}).json()["error"]["code"] == "TOTP_REQUIRED"
    changed = owner.put(path, {"policy_yaml": loose, "totp_code": owner.code()})
    assert changed.json()["status"] == "updated"
