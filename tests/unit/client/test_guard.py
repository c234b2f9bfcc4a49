"""The guard: a tool call runs only once authorized, with the proof in hand."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openleash.client import (
    ActionDenied,
    ApprovalDenied,
    ApprovalRequired,
    ApprovalTimeout,
    Authorization,
    Guard,
    StepUpRequired,
    current_authorization,
    current_proof,
    guard,
)
from tests.unit.client.fakes import OWNER_ID, FakeServer, FakeTime, decision


def held_until_approved(result: str = "REQUIRE_APPROVAL") -> Any:
    def decide(action: dict[str, Any], token: str | None) -> dict[str, Any]:
        if token == "approval-token-1":
            return decision("ALLOW", proof_token="approved-proof", decision_id="d-2")
        return decision(result, decision_id="d-held")

    return decide


def test_allow_runs_the_call_with_the_proof() -> None:
    server = FakeServer()
    client = server.client(owner_id=OWNER_ID)
    seen: list[Any] = []

    @guard(
        client,
        "purchase",
        payload=lambda item, amount: {"amount_minor": amount, "currency": "EUR", "item": item},
        relying_party=lambda item, amount: {"domain": "shop.example"},
        proof_param="proof",
    )
    def buy(item: str, amount: int, proof: str | None = None) -> str:
        seen.append((proof, current_proof(), current_authorization()))
        return f"bought {item}"

    assert buy("tea", 450) == "bought tea"
    proof, current, authorization = seen[0]
    assert proof == current == "proof-1"
    assert isinstance(authorization, Authorization)
    action = server.authorized[0]["action"]
    assert action["action_type"] == "purchase"
    assert action["payload"] == {"amount_minor": 450, "currency": "EUR", "item": "tea"}
    assert action["relying_party"] == {"domain": "shop.example"}
    assert authorization.action == action
    assert current_proof() is None  # only inside the call


def test_the_default_payload_is_the_calls_arguments_by_name() -> None:
    server = FakeServer()
    client = server.client(owner_id=OWNER_ID)

    class Shop:
        @Guard(client, "purchase")
        def buy(self, amount_minor: int, currency: str = "USD", **extra: Any) -> None:
            pass

    Shop().buy(100, note="gift")
    payload = server.authorized[0]["action"]["payload"]
    assert payload == {"amount_minor": 100, "currency": "USD", "note": "gift"}


def test_arguments_that_json_cannot_carry_are_refused_before_the_server_is_asked() -> None:
    server = FakeServer()

    @guard(server.client(owner_id=OWNER_ID), "purchase")
    def buy(item: object, *tags: str, **extra: object) -> None:
        pass

    buy(("tea", 2), "a", "b", counts={1: 2, None: [(3,)]})
    payload = server.authorized[0]["action"]["payload"]
    # Tuples are arrays and keys strings, as json.dumps writes them, in the action kept too.
    assert payload == {"item": ["tea", 2], "tags": ["a", "b"], "counts": {"1": 2, "null": [[3]]}}
    with pytest.raises(TypeError, match="argument `item` is a set"):
        buy({"tea"})
    with pytest.raises(TypeError, match="argument `counts` has a tuple key"):
        buy("tea", counts={(1, 2): 3})
    assert len(server.authorized) == 1
    assert [r.url.path for r in server.requests] == ["/v1/authorize"]


def test_a_call_with_wrong_arguments_is_not_authorized() -> None:
    server = FakeServer()

    @guard(server.client(owner_id=OWNER_ID), "purchase", proof_param="proof")
    def buy(amount_minor: int, *, proof: str | None) -> None:
        pass

    with pytest.raises(TypeError):
        buy()  # type: ignore[call-arg]
    assert server.authorized == []
    buy(5)
    assert len(server.authorized) == 1


def test_deny_raises_and_the_call_does_not_run() -> None:
    server = FakeServer(
        decide=lambda action, token: decision("DENY", reason="over budget", explanation="e")
    )
    ran: list[int] = []

    @guard(server.client(owner_id=OWNER_ID), "purchase", payload={"amount_minor": 1})
    def buy() -> None:
        ran.append(1)

    with pytest.raises(ActionDenied) as caught:
        buy()
    assert ran == []
    assert caught.value.reason == "over budget"
    assert caught.value.explanation == "e"
    assert caught.value.decision is not None
    assert caught.value.decision.denied


def test_require_approval_waits_then_runs_with_the_approved_proof() -> None:
    server = FakeServer(decide=held_until_approved(), statuses=["PENDING", "PENDING", "APPROVED"])
    clock = FakeTime()
    client = server.client(owner_id=OWNER_ID, sleep=clock.sleep, monotonic=clock.monotonic)

    @guard(client, "purchase", justification=lambda amount: f"buy for {amount}")
    def buy(amount: int) -> str | None:
        return current_proof()

    assert buy(900) == "approved-proof"
    first, second = server.authorized
    assert first["action"] == second["action"]  # the identical action, re-authorized
    assert second["approval_token"] == "approval-token-1"
    assert server.filed[0]["decision_id"] == "d-held"
    assert server.filed[0]["justification"] == "buy for 900"
    assert clock.pauses == [1.0, 2.0]


def test_require_approval_raises_when_told_not_to_wait() -> None:
    server = FakeServer(decide=held_until_approved())
    g = Guard(server.client(owner_id=OWNER_ID), "purchase", on_approval="raise")
    with pytest.raises(ApprovalRequired) as caught:
        g.authorize(amount_minor=5)
    assert not isinstance(caught.value, StepUpRequired)
    assert caught.value.approval_request_id == "ar-1"
    assert caught.value.action["payload"] == {"amount_minor": 5}
    assert caught.value.decision.result == "REQUIRE_APPROVAL"


def test_step_up_goes_through_the_approval_request_too() -> None:
    server = FakeServer(decide=held_until_approved("REQUIRE_STEP_UP"))
    clock = FakeTime()
    client = server.client(owner_id=OWNER_ID, sleep=clock.sleep, monotonic=clock.monotonic)
    assert Guard(client, "appointment.book").authorize().proof_token == "approved-proof"
    with pytest.raises(StepUpRequired):
        Guard(client, "appointment.book", on_approval="raise").authorize()


def test_an_owner_who_denies_stops_the_call() -> None:
    server = FakeServer(decide=held_until_approved(), statuses=["PENDING", "DENIED"])
    clock = FakeTime()
    client = server.client(owner_id=OWNER_ID, sleep=clock.sleep, monotonic=clock.monotonic)
    with pytest.raises(ApprovalDenied) as caught:
        Guard(client, "purchase").authorize()
    assert caught.value.status == "DENIED"
    assert "too much" in str(caught.value)
    assert isinstance(caught.value, ActionDenied)
    assert len(server.authorized) == 1


def test_waiting_too_long_raises_approval_timeout() -> None:
    server = FakeServer(decide=held_until_approved(), statuses=["PENDING"])
    clock = FakeTime()
    client = server.client(owner_id=OWNER_ID, sleep=clock.sleep, monotonic=clock.monotonic)
    with pytest.raises(ApprovalTimeout):
        Guard(client, "purchase", approval_timeout=5).authorize()


def test_a_second_hold_after_approval_fails_closed() -> None:
    server = FakeServer(decide=lambda action, token: decision("REQUIRE_APPROVAL"))
    clock = FakeTime()
    client = server.client(owner_id=OWNER_ID, sleep=clock.sleep, monotonic=clock.monotonic)
    with pytest.raises(ActionDenied, match="after the owner's approval"):
        Guard(client, "purchase").authorize()


def test_the_context_manager_sets_the_current_proof_for_its_block() -> None:
    server = FakeServer()
    g = Guard(server.client(owner_id=OWNER_ID), "purchase")
    with g.authorized(amount_minor=300, currency="USD") as authorization:
        assert current_proof() == authorization.proof_token == "proof-1"
        assert authorization.headers()["X-OpenLeash-Proof"] == "proof-1"
    assert current_proof() is None
    assert server.authorized[0]["action"]["payload"] == {"amount_minor": 300, "currency": "USD"}


def test_the_context_manager_refuses_positional_arguments_without_a_payload_function() -> None:
    g = Guard(FakeServer().client(owner_id=OWNER_ID), "purchase")
    with pytest.raises(TypeError):
        g.authorized(1)


def test_async_functions_with_an_async_client() -> None:
    server = FakeServer(decide=held_until_approved(), statuses=["PENDING", "APPROVED"])
    clock = FakeTime()
    client = server.async_client(owner_id=OWNER_ID, sleep=clock.asleep, monotonic=clock.monotonic)

    @guard(client, "purchase", proof_param="proof")
    async def buy(amount_minor: int, proof: str | None = None) -> tuple[str | None, str | None]:
        await asyncio.sleep(0)
        return proof, current_proof()

    async def run() -> None:
        assert await buy(5) == ("approved-proof", "approved-proof")
        async with Guard(client, "purchase").authorized(amount_minor=1) as authorization:
            assert current_proof() == authorization.proof_token

    asyncio.run(run())


def test_async_functions_with_a_sync_client_run_it_in_a_thread() -> None:
    server = FakeServer()

    @guard(server.client(owner_id=OWNER_ID), "purchase")
    async def buy(amount_minor: int) -> str | None:
        return current_proof()

    assert asyncio.run(buy(5)) == "proof-1"


def test_a_plain_function_cannot_be_guarded_with_an_async_client() -> None:
    client = FakeServer().async_client(owner_id=OWNER_ID)
    with pytest.raises(TypeError):
        guard(client, "purchase")(lambda: None)


def test_on_approval_must_be_wait_or_raise() -> None:
    with pytest.raises(ValueError, match="on_approval"):
        Guard(FakeServer().client(), "purchase", on_approval="ask")  # type: ignore[arg-type]
