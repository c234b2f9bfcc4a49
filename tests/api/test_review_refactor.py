"""Holes found by attacking the server after the typed-core refactor, as an outsider, a hostile
enrolled agent and a web page: each test fails on the code before its fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openleash.config import Settings
from tests.api.conftest import Api, from_address, running_api
from tests.api.owners import PASSPHRASE, set_passphrase

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
