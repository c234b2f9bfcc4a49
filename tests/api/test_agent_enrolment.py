"""Agent enrolment trust (PROTOCOL §3.5): nobody but the owner enrols or re-enrols an agent.

A challenge proves only that the caller holds a key, so it enrols the agent PENDING: it may read
its own record and nothing else until its owner activates it. An agent id that exists (active,
pending or revoked, of any owner) is never replaced: before, anyone who had seen one proof token
(it names owner_id and agent_id) could re-register the agent with their own key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from openleash.client.auth import AgentAuth
from openleash.crypto import sign
from openleash.domain.timefmt import iso_ms
from openleash.service.registration import MAX_PENDING_PER_OWNER
from tests.api.conftest import Agent, Api, new_agent_keys
from tests.api.owners import Owner, owner_session
from tests.api.test_portal import page_form, signed_in


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def challenge_register(api: Api, agent_id: str, owner_id: str, **extra: Any) -> tuple[Any, Agent]:
    """Challenge, sign it, register: the response and the agent as its key holder sees it."""
    public, private = new_agent_keys()
    issued = api.client.post(
        "/v1/agents/registration-challenge",
        json={
            "agent_id": agent_id,
            "agent_pubkey_b64": public,
            "owner_type": "user",
            "owner_id": owner_id,
        },
    )
    assert issued.status_code == 200, issued.text
    challenge = issued.json()
    registered = api.client.post(
        "/v1/agents/register",
        json={
            "challenge_id": challenge["challenge_id"],
            "agent_id": agent_id,
            "agent_pubkey_b64": public,
            "signature_b64": sign(private, base64.b64decode(challenge["challenge_b64"])),
            "owner_type": "user",
            "owner_id": owner_id,
            "webhook_url": "",
            "webhook_secret": "",
            "webhook_auth_token": "",
            **extra,
        },
    )
    return registered, Agent(agent_id, owner_id, private, public)


def invite_register(owner: Owner, agent_id: str, **extra: Any) -> tuple[Any, Agent]:
    public, private = new_agent_keys()
    invite = owner.post("/v1/owner/agent-invites").json()
    registered = owner.api.client.post(
        "/v1/agents/register-with-invite",
        json={
            "invite_id": invite["invite_id"],
            "invite_token": invite["invite_token"],
            "agent_id": agent_id,
            "agent_pubkey_b64": public,
            **extra,
        },
    )
    return registered, Agent(agent_id, owner.owner_id, private, public)


def _pending(api: Api, owner: Owner, agent_id: str = "helper") -> tuple[str, Agent]:
    registered, agent = challenge_register(api, agent_id, owner.owner_id)
    assert registered.status_code == 200, registered.text
    assert registered.json()["status"] == "PENDING"
    return registered.json()["agent_principal_id"], agent


def _authorize_body(agent: Agent) -> bytes:
    return _json(agent.action(amount_minor=1))


def _routed_authorize(api: Api, agent: Agent) -> httpx.Response:
    """``POST /v1/authorize`` through the framework route, not the ASGI fast path."""
    raw = _authorize_body(agent)
    auth = AgentAuth(agent.agent_id, agent.private_key_b64, clock=lambda: iso_ms(api.clock()))
    headers = {
        **auth.sign_headers("POST", "/v1/authorize", raw),
        "Content-Type": "application/json",
    }
    routed_app = api.client.app.app  # type: ignore[attr-defined]  # the app behind the fast path

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=routed_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/authorize", content=raw, headers=headers)

    response: httpx.Response = api.run(call())
    return response


def _works(api: Api, agent: Agent) -> bool:
    return bool(api.signed("GET", "/v1/agent/self", agent=agent).status_code == 200)


# -- hijack attempts -------------------------------------------------------------------------------


def test_registering_an_active_agent_id_with_another_key_is_refused_for_any_owner(
    api: Api,
) -> None:
    mallory = api.client.post("/v1/admin/users", json={"display_name": "Mallory"}).json()
    for claimed_owner in (api.agent.owner_id, mallory["user_principal_id"]):
        refused, attacker = challenge_register(api, api.agent.agent_id, claimed_owner)
        assert refused.status_code == 409, refused.text
        assert _code(refused) == "AGENT_ID_TAKEN"
        # the real agent's key still works; the attacker's key gets nothing
        ok = api.signed("POST", "/v1/authorize", _authorize_body(api.agent))
        assert ok.json()["result"] == "ALLOW"
        stolen = api.signed("POST", "/v1/authorize", _authorize_body(attacker), agent=attacker)
        assert stolen.status_code == 401
        assert _code(stolen) == "INVALID_SIGNATURE"
        assert not _works(api, attacker)


def test_a_revoked_agent_id_is_not_re_activated_by_registering_again(api: Api) -> None:
    owner = owner_session(api)
    agents = owner.get("/v1/owner/agents").json()["agents"]
    revoked = owner.put(
        f"/v1/owner/agents/{agents[0]['agent_principal_id']}", {"status": "REVOKED"}
    )
    assert revoked.status_code == 200, revoked.text
    refused, attacker = challenge_register(api, api.agent.agent_id, api.agent.owner_id)
    assert refused.status_code == 409
    assert _code(refused) == "AGENT_ID_TAKEN"
    for who in (api.agent, attacker):
        answer = api.signed("GET", "/v1/agent/self", agent=who)
        assert answer.status_code == 401
        assert _code(answer) == "AGENT_INACTIVE"
    assert [a["status"] for a in owner.get("/v1/owner/agents").json()["agents"]] == ["REVOKED"]


def test_a_pending_agent_id_cannot_be_taken_over_either(api: Api) -> None:
    owner = owner_session(api)
    _, first = _pending(api, owner)
    refused, attacker = challenge_register(api, first.agent_id, owner.owner_id)
    assert refused.status_code == 409
    assert _code(refused) == "AGENT_ID_TAKEN"
    assert not _works(api, attacker)
    me = api.signed("GET", "/v1/agent/self", agent=first)
    assert me.json()["status"] == "PENDING"


def test_an_invite_cannot_take_over_a_live_agent_id_even_of_its_own_owner(api: Api) -> None:
    owner = owner_session(api)
    refused, usurper = invite_register(owner, api.agent.agent_id)
    assert refused.status_code == 409
    assert _code(refused) == "AGENT_ID_TAKEN"
    assert _works(api, api.agent)
    assert not _works(api, usurper)


def test_only_the_owner_of_a_revoked_id_re_enrols_it_and_only_with_an_invite(api: Api) -> None:
    owner = owner_session(api)
    old = owner.get("/v1/owner/agents").json()["agents"][0]
    owner.put(f"/v1/owner/agents/{old['agent_principal_id']}", {"status": "REVOKED"})
    other_id = api.client.post("/v1/admin/users", json={"display_name": "Other"}).json()
    other = owner_session(api, other_id["user_principal_id"])
    taken, _ = invite_register(other, api.agent.agent_id)
    assert _code(taken) == "AGENT_ID_TAKEN"
    again, renewed = invite_register(owner, api.agent.agent_id)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "ACTIVE"
    assert _works(api, renewed)
    assert not _works(api, api.agent), "the old key stays revoked"


# -- what a pending agent may do -------------------------------------------------------------------


def test_a_pending_agent_reads_itself_and_is_refused_everything_else(api: Api) -> None:
    owner = owner_session(api)
    _, agent = _pending(api, owner)
    me = api.signed("GET", "/v1/agent/self", agent=agent)
    assert me.status_code == 200, me.text
    assert me.json()["status"] == "PENDING"
    refused = [
        api.signed("POST", "/v1/authorize", _authorize_body(agent), agent=agent),
        _routed_authorize(api, agent),
        api.signed(
            "POST",
            "/v1/agent/approval-requests",
            _json({"decision_id": "d", "action": agent.action()}),
            agent=agent,
        ),
        api.signed(
            "POST",
            "/v1/agent/policy-drafts",
            _json({"policy_yaml": "version: 1\ndefault: allow\nrules: []\n"}),
            agent=agent,
        ),
        api.signed("GET", "/v1/agent/policy-drafts", agent=agent),
        api.signed("GET", "/v1/agent/usage", agent=agent),
        api.signed(
            "POST",
            "/access/v1/evaluation",
            _json(
                {
                    "subject": {"type": "agent", "id": agent.agent_id},
                    "action": {"name": "purchase"},
                    "resource": {"type": "shop", "id": "shop.example"},
                }
            ),
            agent=agent,
        ),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert _code(response) == "AGENT_PENDING"
        assert "owner" in response.json()["error"]["message"]


def test_a_pending_agent_is_not_a_usable_subject_for_a_pep(tmp_path: Any) -> None:
    from openleash.config import Settings
    from tests.api.conftest import running_api

    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token="s3cret-admin-token",
        authzen_pep_tokens=("pep-token-0123456789",),
    )
    for api in running_api(settings):
        owner = owner_session(api)
        _, agent = _pending(api, owner)
        answer = api.client.post(
            "/access/v1/evaluation",
            json={
                "subject": {"type": "agent", "id": agent.agent_id},
                "action": {"name": "purchase"},
                "resource": {"type": "shop", "id": "shop.example"},
            },
            headers={"Authorization": "Bearer pep-token-0123456789"},
        )
        assert answer.status_code == 403, answer.text
        assert _code(answer) == "AGENT_PENDING"


# -- activation ------------------------------------------------------------------------------------


def test_the_owner_activates_a_pending_agent_and_it_works_at_once(api: Api) -> None:
    owner = owner_session(api)
    agent_principal_id, agent = _pending(api, owner)
    listed = {a["agent_id"]: a["status"] for a in owner.get("/v1/owner/agents").json()["agents"]}
    assert listed[agent.agent_id] == "PENDING"
    done = owner.put(f"/v1/owner/agents/{agent_principal_id}", {"status": "ACTIVE"})
    assert done.status_code == 200, done.text
    assert done.json() == {
        "agent_principal_id": agent_principal_id,
        "agent_id": agent.agent_id,
        "status": "ACTIVE",
    }
    decided = api.signed("POST", "/v1/authorize", _authorize_body(agent), agent=agent)
    assert decided.status_code == 200, decided.text
    assert _routed_authorize(api, agent).status_code == 200
    again = owner.put(f"/v1/owner/agents/{agent_principal_id}", {"status": "ACTIVE"})
    assert _code(again) == "INVALID_STATUS"
    audit = owner.get("/v1/owner/audit?event_type=AGENT_ACTIVATED").json()
    events = [e for e in audit["items"] if e["event_type"] == "AGENT_ACTIVATED"]
    assert len(events) == 1
    assert events[0]["principal_id"] == owner.owner_id, events[0]
    assert owner.owner_id in json.dumps(events[0])


def test_activation_needs_the_second_factor_when_it_is_on(api: Api) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    agent_principal_id, agent = _pending(api, owner)
    refused = owner.put(f"/v1/owner/agents/{agent_principal_id}", {"status": "ACTIVE"})
    assert refused.status_code == 403
    assert _code(refused) == "TOTP_REQUIRED"
    assert not _works_for_authorize(api, agent)
    done = owner.put(
        f"/v1/owner/agents/{agent_principal_id}", {"status": "ACTIVE", "totp_code": owner.code()}
    )
    assert done.status_code == 200, done.text
    assert _works_for_authorize(api, agent)


def _works_for_authorize(api: Api, agent: Agent) -> bool:
    answer = api.signed("POST", "/v1/authorize", _authorize_body(agent), agent=agent)
    return bool(answer.status_code == 200)


def test_another_owner_cannot_activate_it(api: Api) -> None:
    owner = owner_session(api)
    agent_principal_id, agent = _pending(api, owner)
    other_id = api.client.post("/v1/admin/users", json={"display_name": "Eve"}).json()
    eve = owner_session(api, other_id["user_principal_id"])
    refused = eve.put(f"/v1/owner/agents/{agent_principal_id}", {"status": "ACTIVE"})
    assert refused.status_code == 404
    assert _code(refused) == "NOT_FOUND"
    assert not _works_for_authorize(api, agent)


def test_the_owner_can_reject_a_pending_agent(api: Api) -> None:
    owner = owner_session(api)
    agent_principal_id, agent = _pending(api, owner)
    done = owner.put(f"/v1/owner/agents/{agent_principal_id}", {"status": "REVOKED"})
    assert done.status_code == 200, done.text
    answer = api.signed("GET", "/v1/agent/self", agent=agent)
    assert _code(answer) == "AGENT_INACTIVE"
    refused = owner.put(f"/v1/owner/agents/{agent_principal_id}", {"status": "ACTIVE"})
    assert _code(refused) == "INVALID_STATUS"


def test_the_portal_lists_pending_agents_and_activates_them_with_csrf_and_code(api: Api) -> None:
    owner = signed_in(api, with_totp=True)
    agent_principal_id, agent = _pending(api, owner, "portal-helper")
    inbox = api.client.get("/gui/approvals")
    assert 'data-testid="pending-agents"' in inbox.text
    assert 'data-agent-id="portal-helper"' in inbox.text
    page = api.client.get("/gui/agents")
    assert f"/gui/agents/{agent_principal_id}/activate" in page.text
    token = page_form(api, "/gui/agents")
    path = f"/gui/agents/{agent_principal_id}/activate"
    no_csrf = api.client.post(path, data={"totp_code": owner.code()})
    assert no_csrf.status_code == 403
    assert "This was refused." in no_csrf.text
    no_code = api.client.post(path, data={"csrf_token": token})
    assert 'data-code="TOTP_REQUIRED"' in no_code.text
    assert not _works_for_authorize(api, agent)
    done = api.client.post(path, data={"csrf_token": token, "totp_code": owner.code()})
    assert 'data-testid="flash"' in done.text
    assert _works_for_authorize(api, agent)
    assert 'data-testid="pending-agents"' not in api.client.get("/gui/approvals").text


# -- challenges are bounded and quiet --------------------------------------------------------------


def _challenge(api: Api, **fields: Any) -> Any:
    public, _ = new_agent_keys()
    return api.client.post(
        "/v1/agents/registration-challenge",
        json={"agent_id": "bounded", "agent_pubkey_b64": public, **fields},
    )


def test_challenge_attributes_and_ids_are_capped(api: Api) -> None:
    big = _challenge(api, agent_attributes_json={"blob": "x" * 9000})
    assert big.status_code == 413
    assert _code(big) == "ATTRIBUTES_TOO_LARGE"
    assert _challenge(api, agent_attributes_json={"team": "ops"}).status_code == 200
    long_id = _challenge(api, agent_id="a" * 129)
    assert long_id.status_code == 400
    assert "agent_id" in long_id.json()["error"]["message"]
    long_key = _challenge(api, agent_pubkey_b64="A" * 5000)
    assert long_key.status_code == 400


def test_agent_ids_enrolled_without_an_invite_cannot_look_like_another(api: Api) -> None:
    """The owner activates what they see: no zero-width, space or look-alike letter may make a
    planted agent pass for one of theirs."""
    for lookalike in ("helper\u200b", "help er", "h\u0435lper", "helper\t"):
        refused = _challenge(api, agent_id=lookalike)
        assert refused.status_code == 400, lookalike
        assert "visible ASCII" in refused.json()["error"]["message"]
    assert _challenge(api, agent_id="team.ops:helper-2").status_code == 200


def test_issuing_challenges_writes_no_audit_record(api: Api) -> None:
    async def last_seq() -> int:
        async with api.services.store.read() as tx:
            return await tx.last_seq()

    before = api.run(last_seq())
    for _ in range(5):
        assert _challenge(api).status_code == 200
    assert api.run(last_seq()) == before


def test_expired_challenges_are_purged_when_new_ones_are_issued(api: Api) -> None:
    issued = [_challenge(api).json()["challenge_id"] for _ in range(3)]
    api.clock.advance(3600)
    for _ in range(3):
        assert _challenge(api).status_code == 200

    async def left() -> list[bool]:
        async with api.services.store.transaction() as tx:
            return [await tx.take_challenge(c) is not None for c in issued]

    assert api.run(left()) == [False, False, False]


# -- webhook URLs ----------------------------------------------------------------------------------


def test_a_webhook_url_of_one_owner_does_not_block_another_owner(api: Api) -> None:
    hook = {"webhook_url": "https://hooks.example/shared", "webhook_secret": "s" * 16}
    owner = owner_session(api)
    first, _ = invite_register(owner, "hooked-1", **hook)
    assert first.status_code == 200, first.text
    other_id = api.client.post("/v1/admin/users", json={"display_name": "Other"}).json()
    other = owner_session(api, other_id["user_principal_id"])
    second, _ = invite_register(other, "hooked-2", **hook)
    assert second.status_code == 200, second.text
    same_owner, _ = invite_register(owner, "hooked-3", **hook)
    assert same_owner.status_code == 409
    assert _code(same_owner) == "WEBHOOK_URL_NOT_UNIQUE"
    short, _ = invite_register(owner, "hooked-4", webhook_url="https://hooks.example/x")
    assert short.status_code == 400, "the signing-secret minimum stays"


def test_a_pending_agent_blocks_no_webhook_url_and_activation_checks_it(api: Api) -> None:
    hook = {"webhook_url": "https://hooks.example/mine", "webhook_secret": "s" * 16}
    owner = owner_session(api)
    squatter, _ = challenge_register(api, "squatter", owner.owner_id, **hook)
    assert squatter.status_code == 200, squatter.text
    mine, _ = invite_register(owner, "mine", **hook)
    assert mine.status_code == 200, mine.text
    path = f"/v1/owner/agents/{squatter.json()['agent_principal_id']}"
    refused = owner.put(path, {"status": "ACTIVE"})
    assert refused.status_code == 409
    assert _code(refused) == "WEBHOOK_URL_NOT_UNIQUE"


def test_strangers_cannot_flood_an_owner_with_pending_agents(api: Api) -> None:
    owner = owner_session(api)
    planted = [_pending(api, owner, f"planted-{n}")[0] for n in range(MAX_PENDING_PER_OWNER)]
    refused, _ = challenge_register(api, "one-too-many", owner.owner_id)
    assert refused.status_code == 429
    assert _code(refused) == "TOO_MANY_PENDING_AGENTS"
    # The owner's own invites are never limited, and rejecting a planted agent makes room.
    invited, _ = invite_register(owner, "invited-anyway")
    assert invited.status_code == 200, invited.text
    assert owner.put(f"/v1/owner/agents/{planted[0]}", {"status": "REVOKED"}).status_code == 200
    again, _ = challenge_register(api, "one-too-many", owner.owner_id)
    assert again.status_code == 200, again.text
