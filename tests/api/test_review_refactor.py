"""Holes found by attacking the server after the typed-core refactor, as an outsider, a hostile
enrolled agent and a web page: each test fails on the code before its fix."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openleash.client import AgentAuth
from openleash.config import Settings
from openleash.crypto import sign
from openleash.domain.timefmt import iso_ms
from openleash.service.authorize import Authorizer
from openleash.service.owner_auth import OwnerSetup
from openleash.service.owner_factor import Denial, FactorProof
from openleash.service.owner_policies import OwnerPolicyCreate, OwnerPolicyOrder, OwnerPolicyUpdate
from openleash.service.setup import setup_owner_and_agent
from openleash.verify import INVALID_PROOF, ProofRejected
from tests.api.conftest import (
    ALLOW_ALL,
    BASE_URL,
    Agent,
    Api,
    from_address,
    new_agent_keys,
    running_api,
    upsert,
)
from tests.api.owners import PASSPHRASE, set_passphrase
from tests.unit.verify.issuer import Issuer

LOOPBACK = "127.0.0.1"
PEP_TOKEN = "pep-token-for-the-review-0123456789"


def body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# -- a token whose body is one character past a multiple of four ---------------------------------

#: ``v4.public.`` and then base64url text of 4n+1 characters: no byte string encodes to that, so
#: decoding it fails in a way other malformed tokens do not.
SHORT_BY_ONE = ("v4.public.x", "v4.public.xxxxx", "v4.public." + "A" * 89)


@pytest.fixture
def pep_api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token="s3cret-admin-token",
        authzen_pep_tokens=(PEP_TOKEN,),
    )
    yield from running_api(settings)


@pytest.mark.parametrize("token", SHORT_BY_ONE)
def test_anyone_verifying_a_malformed_proof_gets_a_verdict_not_a_500(api: Api, token: str) -> None:
    answer = from_address(api, LOOPBACK, "POST", "/v1/verify-proof", json={"token": token})
    assert answer.status_code == 200, answer.text
    assert answer.json()["valid"] is False


@pytest.mark.parametrize("token", SHORT_BY_ONE)
def test_a_malformed_session_token_is_401_on_the_owner_api(api: Api, token: str) -> None:
    answer = from_address(
        api, LOOPBACK, "GET", "/v1/owner/profile", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "INVALID_SESSION"


def test_a_malformed_session_cookie_sends_the_portal_to_the_login_page(api: Api) -> None:
    answer = from_address(
        api, LOOPBACK, "GET", "/gui/approvals", cookies={"openleash_session": SHORT_BY_ONE[0]}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/gui/login")


def test_a_malformed_device_cookie_does_not_break_the_login(api: Api) -> None:
    assert set_passphrase(api, api.agent.owner_id).status_code == 200
    answer = from_address(
        api,
        LOOPBACK,
        "POST",
        "/v1/owner/login",
        json={"user_principal_id": api.agent.owner_id, "passphrase": PASSPHRASE},
        cookies={"openleash_device": SHORT_BY_ONE[0]},
    )
    assert answer.status_code == 200, answer.text


def test_an_agent_sending_a_malformed_approval_token_is_refused_401(api: Api) -> None:
    action: dict[str, Any] = api.agent.action(amount_minor=5, currency="EUR")
    action["approval_token"] = SHORT_BY_ONE[0]
    answer = api.signed("POST", "/v1/authorize", body(action))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "INVALID_APPROVAL_TOKEN"


@pytest.mark.parametrize("token", SHORT_BY_ONE)
def test_a_counterparty_verifier_rejects_a_malformed_proof_instead_of_raising(
    token: str,
) -> None:
    """The same decoding protects the services that verify proofs (ProofVerifier, and the
    ProofMiddleware in front of them): a malformed proof is refused 401, not a crash."""
    issuer = Issuer()
    with pytest.raises(ProofRejected) as caught:
        issuer.verifier().verify(token, action_type="purchase")
    assert (caught.value.code, caught.value.status) == (INVALID_PROOF, 401)


def _evaluation(api: Api, **context: Any) -> dict[str, Any]:
    return {
        "subject": {"type": "agent", "id": api.agent.agent_id},
        "action": {"name": "purchase"},
        "resource": {"type": "order", "id": "o-1", "properties": {"amount_minor": 100}},
        "context": {"currency": "USD", **context},
    }


def test_one_malformed_approval_token_in_an_authzen_batch_spares_the_other_answers(
    pep_api: Api,
) -> None:
    """The first item is decided and recorded before the second is read: a 500 for the batch
    would hide from the PEP a decision that was taken (and counted) all the same."""
    api = pep_api
    batch = {
        "evaluations": [
            _evaluation(api),
            _evaluation(api, approval_token=SHORT_BY_ONE[0]),
        ]
    }
    answer = from_address(
        api,
        LOOPBACK,
        "POST",
        "/access/v1/evaluations",
        content=body(batch),
        headers={"Authorization": f"Bearer {PEP_TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["evaluations"]
    assert first["decision"] is True
    assert second["decision"] is False
    assert second["context"]["error"]["code"] == "INVALID_APPROVAL_TOKEN"


def test_a_fault_in_one_authzen_item_spares_the_answers_of_the_others(
    pep_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items are decided and recorded one after the other: if one fails in a way nobody
    foresaw, the decisions already taken (a budget spent, an owner's approval used up) must
    still reach the PEP, and the items after it still be decided."""
    api = pep_api
    decide = Authorizer.authorize

    async def faulty(self: Authorizer, snap: Any, call: Any, request: Any) -> Any:
        if request.action_type == "explode":
            raise RuntimeError("a fault nobody foresaw")
        return await decide(self, snap, call, request)

    monkeypatch.setattr(Authorizer, "authorize", faulty)
    exploding = _evaluation(api)
    exploding["action"] = {"name": "explode"}
    batch = {"evaluations": [_evaluation(api), exploding, _evaluation(api)]}
    answer = from_address(
        api,
        LOOPBACK,
        "POST",
        "/access/v1/evaluations",
        content=body(batch),
        headers={"Authorization": f"Bearer {PEP_TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    first, second, third = answer.json()["evaluations"]
    assert (first["decision"], second["decision"], third["decision"]) == (True, False, True)
    assert second["context"]["error"] == {
        "status": 500,
        "code": "INTERNAL_ERROR",
        "message": "Internal server error",
    }


# -- PostgreSQL refuses U+0000 in text -------------------------------------------------------------


@pytest.fixture
def on_postgres(tmp_path: Path) -> Iterator[Api]:
    from tests.contract import _postgres

    reason = _postgres.unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = _postgres.create_database()
    try:
        yield from running_api(Settings(data_dir=tmp_path / "data", store_url=url))
    finally:
        _postgres.drop_database(url)


def _other_agent(api: Api, agent_id: str = "agent-2") -> Agent:
    public, private = new_agent_keys()
    made = api.run(
        setup_owner_and_agent(
            api.services.store,
            owner_name="Bea",
            agent_id=agent_id,
            public_key_b64=public,
            policy_yaml=ALLOW_ALL,
            options=api.services.options,
        )
    )
    return Agent(agent_id, made.owner.user_principal_id, private, public)


def _at_once(api: Api, calls: list[tuple[Agent, bytes]]) -> list[httpx.Response]:
    """Signed ``POST /v1/authorize`` requests sent together: they share group-commit batches."""

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.client.app, client=(LOOPBACK, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            pending = []
            for who, raw in calls:
                auth = AgentAuth(
                    who.agent_id, who.private_key_b64, clock=lambda: iso_ms(api.clock())
                )
                headers = auth.sign_headers("POST", "/v1/authorize", raw)
                headers["Content-Type"] = "application/json"
                pending.append(client.post("/v1/authorize", content=raw, headers=headers))
            return list(await asyncio.gather(*pending))

    responses: list[httpx.Response] = api.run(send())
    return responses


def _with_nul(api: Api) -> bytes:
    action: dict[str, Any] = api.agent.action(amount_minor=5, currency="EUR")
    action["action_type"] = "pur\u0000chase"
    return body(action)


def test_an_agent_sending_a_nul_character_is_refused_400_on_postgres(on_postgres: Api) -> None:
    answer = on_postgres.signed("POST", "/v1/authorize", _with_nul(on_postgres))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "INVALID_REQUEST"


def test_a_nul_character_in_a_batch_spares_the_other_agents_decisions_on_postgres(
    on_postgres: Api,
) -> None:
    """One agent's unit whose statement PostgreSQL refuses must not abort the shared write
    transaction of the group-commit batch: the other agents' decisions are answered and kept."""
    api = on_postgres
    other = _other_agent(api)
    calls = [(other, body(other.action(amount_minor=5, currency="EUR"))) for _ in range(6)]
    calls.insert(1, (api.agent, _with_nul(api)))
    calls.insert(4, (api.agent, _with_nul(api)))
    answers = _at_once(api, calls)
    refused = [a for a in answers if a.status_code == 400]
    allowed = [a for a in answers if a.status_code == 200]
    assert len(refused) == 2, [a.text for a in answers]
    assert len(allowed) == 6, [a.text for a in answers]
    assert all(a.json()["result"] == "ALLOW" for a in allowed)
    page = api.client.get(
        "/v1/admin/audit",
        params={"limit": 100},
        headers={"Authorization": "Bearer s3cret-admin-token"},
    )
    decided = {e["decision_id"] for e in page.json()["items"] if e["decision_id"]}
    assert {a.json()["decision_id"] for a in allowed} <= decided


def test_anyone_sending_a_nul_character_gets_a_4xx_on_postgres(on_postgres: Api) -> None:
    api = on_postgres
    challenge = {
        "agent_id": "new-agent",
        "agent_pubkey_b64": api.agent.public_key_b64,
        "owner_type": "user",
        "owner_id": "owner\u0000",
    }
    invite = {
        "invite_id": "invite\u0000",
        "invite_token": "token",
        "agent_id": "new-agent",
        "agent_pubkey_b64": api.agent.public_key_b64,
    }
    for path, sent in (
        ("/v1/agents/registration-challenge", challenge),
        ("/v1/agents/register-with-invite", invite),
        ("/v1/owner/login", {"user_principal_id": "owner\u0000", "passphrase": "p"}),
    ):
        answer = from_address(api, LOOPBACK, "POST", path, json=sent)
        assert 400 <= answer.status_code < 500, (path, answer.text)
    for path in ("/v1/agent/approval-requests/a%00b", "/v1/agent/policy-drafts/a%00b"):
        answer = api.signed("GET", path)
        assert 400 <= answer.status_code < 500, (path, answer.text)


# -- commands that carry the owner's secrets -------------------------------------------------------


def test_the_commands_never_show_a_passphrase_code_or_invite_token_in_their_repr() -> None:
    """A command printed anywhere (a log line, a debugger, a test report) must not show the
    owner's passphrase, a second-factor code or a setup invite's token, as LoginAttempt and
    InviteEnrolment already do not."""
    sent = {
        "passphrase": "correct horse battery staple",
        "totp_code": "493817",
        "invite_id": "invite-1",
        "invite_token": "setup-invite-token-Zq9",
        "reason": "no",
        "policy_yaml": "version: 1\ndefault: deny\nrules: []\n",
        "tier": "agent",
        "ordered_policy_ids": [],
    }
    made = (
        FactorProof.from_body(sent),
        Denial.from_body(sent),
        OwnerSetup.from_body(sent),
        OwnerPolicyCreate.from_body(sent),
        OwnerPolicyUpdate.from_body(sent),
        OwnerPolicyOrder.from_body(sent),
    )
    for command in made:
        shown = repr(command)
        for secret in ("correct horse battery staple", "493817", "setup-invite-token-Zq9"):
            assert secret not in shown, shown


# -- PostgreSQL refuses index entries over about 2.7 kB --------------------------------------------

WILDCARD = """\
version: 1
default: deny
rules:
  - id: anything
    effect: allow
    action: "*"
"""


def _random_host(labels: int = 60) -> str:
    """A well-formed host name of about 3.7 kB that no compression shrinks."""
    alphabet = string.ascii_lowercase + string.digits
    return ".".join("".join(secrets.choice(alphabet) for _ in range(60)) for _ in range(labels))


def _long_counterparty(api: Api) -> bytes:
    return body(api.agent.action(amount_minor=5, currency="EUR", merchant_domain=_random_host()))


def _long_action_type(api: Api) -> bytes:
    action: dict[str, Any] = api.agent.action(amount_minor=5, currency="EUR")
    action["action_type"] = secrets.token_urlsafe(3000)
    return body(action)


@pytest.mark.parametrize("hostile", [_long_counterparty, _long_action_type])
def test_an_allowed_action_too_long_to_count_spares_the_batch_on_postgres(
    on_postgres: Api, hostile: Callable[[Api], bytes]
) -> None:
    """An allowed action is counted in a usage stream whose unique key holds the action type
    and the counterparty the agent wrote: one too long for PostgreSQL's B-tree must be refused
    (400) without aborting the batch the other agents' decisions share."""
    api = on_postgres
    api.run(upsert(api.services, api.agent.owner_id, WILDCARD))
    other = _other_agent(api)
    calls = [(other, body(other.action(amount_minor=5, currency="EUR"))) for _ in range(4)]
    calls.insert(1, (api.agent, hostile(api)))
    answers = _at_once(api, calls)
    assert [a.status_code for a in answers] == [200, 400, 200, 200, 200], [a.text for a in answers]
    assert answers[1].json()["error"]["code"] == "INVALID_REQUEST"


def test_enrolling_with_a_webhook_url_too_long_to_index_is_a_4xx_on_postgres(
    on_postgres: Api,
) -> None:
    """Anyone holding a key may register by challenge: 2,000 random CJK characters are within
    the length limit but three times PostgreSQL's index entry size in UTF-8."""
    api = on_postgres
    public, private = new_agent_keys()
    asked = {
        "agent_id": "hooked",
        "agent_pubkey_b64": public,
        "owner_type": "user",
        "owner_id": api.agent.owner_id,
    }
    challenge = from_address(
        api, LOOPBACK, "POST", "/v1/agents/registration-challenge", json=asked
    ).json()
    url = "https://hooks.example/" + "".join(
        chr(0x4E00 + secrets.randbelow(0x5000)) for _ in range(2000)
    )
    enrolment = {
        **asked,
        "challenge_id": challenge["challenge_id"],
        "signature_b64": sign(private, base64.b64decode(challenge["challenge_b64"])),
        "webhook_url": url,
        "webhook_secret": "a-webhook-secret-0123",
    }
    answer = from_address(api, LOOPBACK, "POST", "/v1/agents/register", json=enrolment)
    assert 400 <= answer.status_code < 500, answer.text
