"""Proofs from the server itself (in process): they name the action's counterparty, in a claim
after the standard ones, and the verifier holds them to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openleash.client import compute_action_hash, verify_proof_offline
from openleash.config import Settings
from openleash.crypto import verify_token_with_public_keys
from openleash.verify import PROOF_COUNTERPARTY_MISMATCH, ProofRejected, ProofVerifier
from tests.api.conftest import Api, running_api

#: The proof claims of the TypeScript server, in its order (inv §5.3).
STANDARD = [
    "iss",
    "kid",
    "iat",
    "exp",
    "decision_id",
    "owner_type",
    "owner_id",
    "agent_id",
    "action_type",
    "action_hash",
    "matched_rule_id",
]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from running_api(Settings(data_dir=tmp_path / "data", admin_token="s3cret-admin-token"))


def proof_of(api: Api, action: dict[str, Any]) -> str:
    response = api.signed("POST", "/v1/authorize", json.dumps(action).encode())
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "ALLOW", response.json()
    token: str = response.json()["proof_token"]
    return token


def claims_of(api: Api, token: str) -> dict[str, Any]:
    keys = api.client.get("/v1/public-keys").json()["keys"]
    return verify_token_with_public_keys(token, keys, now=api.clock(), purpose="proof")


def verifier(api: Api, audience: str) -> ProofVerifier:
    return ProofVerifier(
        str(api.client.base_url), audience=audience, http_client=api.client, clock=api.clock
    )


@pytest.mark.parametrize(
    ("where", "named"),
    [
        ({"payload": {"merchant_domain": "Shop.Example"}}, "shop.example"),
        ({"payload": {"domain": "docs.example"}}, "docs.example"),
        ({"relying_party": {"domain": "rp.example"}}, "rp.example"),
        (
            {"payload": {"merchant_domain": "shop.example"}, "relying_party": {"domain": "x.ex"}},
            "shop.example",
        ),
    ],
)
def test_the_proof_names_the_counterparty_after_the_standard_claims(
    api: Api, where: dict[str, Any], named: str
) -> None:
    action = api.agent.action(amount_minor=500)
    action["payload"].update(where.get("payload", {}))
    if "relying_party" in where:
        action["relying_party"] = where["relying_party"]
    claims = claims_of(api, proof_of(api, action))
    assert list(claims)[: len(STANDARD)] == STANDARD
    assert list(claims)[-1] == "counterparty"
    assert claims["counterparty"] == named


def test_an_action_naming_no_counterparty_gets_a_proof_without_the_claim(api: Api) -> None:
    claims = claims_of(api, proof_of(api, api.agent.action(amount_minor=500)))
    assert "counterparty" not in claims


def test_the_verifier_accepts_the_proof_only_at_its_counterparty(api: Api) -> None:
    action = api.agent.action(amount_minor=500, merchant_domain="shop.example")
    token = proof_of(api, action)
    with pytest.raises(ProofRejected) as caught:
        verifier(api, "bank.example").verify(token, action=action, action_type="purchase")
    assert caught.value.code == PROOF_COUNTERPARTY_MISMATCH
    proof = verifier(api, "shop.example").verify(token, action=action, action_type="purchase")
    assert (proof.counterparty, proof.action) == ("shop.example", action)


def test_verify_proof_offline_still_accepts_the_proof(api: Api) -> None:
    action = api.agent.action(amount_minor=500, merchant_domain="shop.example")
    token = proof_of(api, action)
    keys = api.client.get("/v1/public-keys").json()["keys"]
    claims = verify_proof_offline(
        token,
        keys,
        expected_action_hash=compute_action_hash(action),
        expected_agent_id="agent-1",
        now=api.clock(),
    )
    assert claims["counterparty"] == "shop.example"
