"""ProofVerifier: offline checks, the key cache, single use."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from openleash.client import bind_request
from openleash.verify import (
    INVALID_PROOF,
    ISSUER_UNAVAILABLE,
    PROOF_ACTION_MISMATCH,
    PROOF_AGENT_MISMATCH,
    PROOF_COUNTERPARTY_MISMATCH,
    PROOF_REPLAYED,
    PROOF_REQUEST_MISMATCH,
    HttpRequest,
    ProofRejected,
    ProofVerifier,
)
from tests.unit.verify.issuer import NOW, Issuer


def rejected(code: str, status: int) -> pytest.RaisesExc[ProofRejected]:
    return pytest.raises(ProofRejected, check=lambda e: (e.code, e.status) == (code, status))


def test_a_valid_proof_verifies_with_its_action() -> None:
    issuer = Issuer()
    action = issuer.action(amount_minor=5)
    proof = issuer.verifier().verify(
        issuer.proof(action), action=action, action_type="purchase", agent_id="agent-1"
    )
    assert proof.decision_id == "d-1"
    assert (proof.agent_id, proof.action_type) == ("agent-1", "purchase")
    assert proof.payload == {"amount_minor": 5}
    assert proof.owner_id is not None


def test_a_proof_is_accepted_once() -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    token = issuer.proof()
    verifier.verify(token, action_type="purchase")
    with rejected(PROOF_REPLAYED, 403):
        verifier.verify(token, action_type="purchase")
    # Another decision is another proof.
    verifier.verify(issuer.proof(decision_id="d-2"), action_type="purchase")


def test_checking_without_consuming_and_failed_checks_do_not_use_the_proof() -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    token = issuer.proof()
    verifier.verify(token, consume=False, action_type="purchase")
    with rejected(PROOF_ACTION_MISMATCH, 403):
        verifier.verify(token, action_type="payment")
    verifier.verify(token, action_type="purchase")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.session_token(), "Invalid token purpose"),
        (lambda i: i.approval_token(i.action()), "Invalid token purpose"),
        (lambda i: i.proof(ttl=1)[:-4] + "AAAA", "No matching key found or invalid signature"),
        (lambda i: "not a token", "No matching key found or invalid signature"),
    ],
)
def test_tokens_that_are_not_valid_proofs_are_refused(make: object, reason: str) -> None:
    issuer = Issuer()
    token = make(issuer)  # type: ignore[operator]
    with rejected(INVALID_PROOF, 401) as caught:
        issuer.verifier().verify(token, action_type="purchase")
    assert caught.value.message == reason


def test_an_expired_proof_is_refused() -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    verifier.clock = lambda: NOW + timedelta(seconds=121)
    with rejected(INVALID_PROOF, 401) as caught:
        verifier.verify(issuer.proof(ttl=120), action_type="purchase")
    assert caught.value.message == "Token expired"


def test_a_proof_for_another_action_is_refused() -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    token = issuer.proof(issuer.action(amount_minor=5))
    with rejected(PROOF_ACTION_MISMATCH, 403):
        verifier.verify(token, action=issuer.action(amount_minor=500), action_type="purchase")
    with rejected(PROOF_ACTION_MISMATCH, 403):
        verifier.verify(token, action_hash="00" * 32, action_type="purchase")
    with rejected(PROOF_ACTION_MISMATCH, 403):
        verifier.verify(token, action={"not": "an action"}, action_type="purchase")


def test_a_proof_for_another_agent_is_refused() -> None:
    issuer = Issuer()
    with rejected(PROOF_AGENT_MISMATCH, 403):
        issuer.verifier().verify(
            issuer.proof(agent_id="agent-2"), agent_id="agent-1", action_type="purchase"
        )


def test_a_revoked_key_verifies_nothing() -> None:
    issuer = Issuer()
    old = issuer.key
    issuer.rotate()
    issuer.revoked[old.kid] = "2026-11-28T11:00:00.000Z"
    with rejected(INVALID_PROOF, 401) as caught:
        issuer.verifier().verify(issuer.proof(key=old), action_type="purchase")
    assert caught.value.message == "Key revoked"


def test_a_revocation_is_seen_once_the_cached_keys_expire() -> None:
    issuer = Issuer()
    old = issuer.key
    now = [0.0]
    verifier = issuer.verifier(cache_ttl=60)
    verifier.keys._monotonic = lambda: now[0]
    verifier.verify(issuer.proof(key=old, decision_id="d-1"), action_type="purchase")
    issuer.rotate()
    issuer.revoked[old.kid] = "2026-11-28T11:00:00.000Z"
    verifier.verify(
        issuer.proof(key=old, decision_id="d-2"), action_type="purchase"
    )  # the cache still has it live
    now[0] = 61
    with rejected(INVALID_PROOF, 401):
        verifier.verify(issuer.proof(key=old, decision_id="d-3"), action_type="purchase")


def test_an_unknown_key_id_refreshes_the_keys_once_per_cooldown() -> None:
    issuer = Issuer()
    now = [0.0]
    verifier = issuer.verifier(refresh_cooldown=5)
    verifier.keys._monotonic = lambda: now[0]
    verifier.verify(issuer.proof(decision_id="d-1"), action_type="purchase")
    assert issuer.fetches == 1
    stranger = Issuer().proof()
    for _ in range(3):
        with rejected(INVALID_PROOF, 401):
            verifier.verify(stranger, action_type="purchase")
    assert issuer.fetches == 1  # within the cooldown: no refetch per made-up kid
    now[0] = 6
    new_key = issuer.rotate()
    verifier.verify(issuer.proof(key=new_key, decision_id="d-2"), action_type="purchase")
    assert issuer.fetches == 2


def test_an_unreachable_issuer_fails_closed() -> None:
    issuer = Issuer(down=True)
    with rejected(ISSUER_UNAVAILABLE, 503):
        issuer.verifier().verify(issuer.proof(), action_type="purchase")


def test_binding_checks_the_request_digest() -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    body = b'{"sku":"tea"}'
    action = bind_request(issuer.action(amount_minor=5), "POST", "/orders", body)
    token = issuer.proof(action)
    for other in (
        HttpRequest("POST", "/orders", b'{"sku":"car"}'),
        HttpRequest("PUT", "/orders", body),
        HttpRequest("POST", "/orders?again=1", body),
    ):
        with rejected(PROOF_REQUEST_MISMATCH, 403):
            verifier.verify(token, action=action, request=other, action_type="purchase")
    with rejected(PROOF_REQUEST_MISMATCH, 403):
        verifier.verify(
            token, request=HttpRequest("POST", "/orders", body), action_type="purchase"
        )  # no action
    verifier.verify(
        token, action=action, request=HttpRequest("POST", "/orders", body), action_type="purchase"
    )


def test_an_unbound_action_fails_a_bound_check() -> None:
    issuer = Issuer()
    action = issuer.action()
    with rejected(PROOF_REQUEST_MISMATCH, 403) as caught:
        issuer.verifier().verify(
            issuer.proof(action),
            action=action,
            request=HttpRequest("GET", "/"),
            action_type="purchase",
        )
    assert "request_sha256" in caught.value.message


def test_averify_matches_verify() -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    token = issuer.proof()

    async def run() -> None:
        assert (await verifier.averify(token, action_type="purchase")).decision_id == "d-1"
        with rejected(PROOF_REPLAYED, 403):
            await verifier.averify(token, action_type="purchase")

    asyncio.run(run())


def test_the_envelope() -> None:
    exc = ProofRejected(PROOF_REPLAYED, "used")
    assert exc.to_wire() == {"error": {"code": "PROOF_REPLAYED", "message": "used"}}


# -- what a proof authorizes: its action type and its counterparty --------------------------


def test_a_proof_for_another_action_type_is_refused_and_stays_unused() -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    token = issuer.proof(issuer.action("communication.email"))
    with rejected(PROOF_ACTION_MISMATCH, 403) as caught:
        verifier.verify(token, action_type="purchase")
    assert "'communication.email'" in caught.value.message
    assert verifier.verify(token, action_type="communication.email").decision_id == "d-1"


@pytest.mark.parametrize("missing", [None, "", 7])
def test_verify_without_an_action_type_is_a_programming_error(missing: object) -> None:
    issuer = Issuer()
    verifier = issuer.verifier()
    with pytest.raises(ValueError, match="action_type"):
        verifier.verify(issuer.proof(), action_type=missing)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verifier.verify(issuer.proof())  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="action_type"):
        asyncio.run(verifier.averify(issuer.proof(), action_type=missing))  # type: ignore[arg-type]


def test_a_proof_for_another_counterparty_is_refused() -> None:
    issuer = Issuer()
    verifier = issuer.verifier(audience="shop.example")
    token = issuer.proof(issuer.action(counterparty="bank.example"))
    with rejected(PROOF_COUNTERPARTY_MISMATCH, 403) as caught:
        verifier.verify(token, action_type="purchase")
    assert "'bank.example'" in caught.value.message
    # The proof is still good where it was meant to go.
    assert issuer.verifier(audience="bank.example").verify(token, action_type="purchase")


def test_a_proof_naming_no_counterparty_is_refused() -> None:
    issuer = Issuer()
    nowhere = issuer.action(counterparty=None)
    with rejected(PROOF_COUNTERPARTY_MISMATCH, 403) as caught:
        issuer.verifier().verify(issuer.proof(nowhere), action=nowhere, action_type="purchase")
    assert "names no counterparty" in caught.value.message
    # A proof without the claim (as the TypeScript server issues them) is refused the same way,
    # even though its action names the shop: nothing signed says so.
    action = issuer.action()
    with rejected(PROOF_COUNTERPARTY_MISMATCH, 403):
        issuer.verifier().verify(
            issuer.proof(action, extra={}), action=action, action_type="purchase"
        )
    with rejected(PROOF_COUNTERPARTY_MISMATCH, 403):
        issuer.verifier().verify(
            issuer.proof(action, extra={"counterparty": 5}), action_type="purchase"
        )


def test_the_audience_is_compared_without_case_and_may_list_several_names() -> None:
    issuer = Issuer()
    verifier = issuer.verifier(audience=["www.shop.example", "Shop.Example"])
    token = issuer.proof(issuer.action(counterparty="SHOP.example"))
    assert verifier.verify(token, action_type="purchase").counterparty == "shop.example"
    assert verifier.audience == frozenset({"www.shop.example", "shop.example"})


@pytest.mark.parametrize("audience", ["", "  ", [], [""], ["shop.example", None]])
def test_a_verifier_must_say_who_it_is(audience: object) -> None:
    with pytest.raises(ValueError, match="audience"):
        ProofVerifier("http://issuer.test", audience=audience)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ProofVerifier("http://issuer.test")  # type: ignore[call-arg]
