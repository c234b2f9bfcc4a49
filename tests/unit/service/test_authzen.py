"""AuthZEN evaluations on the in-memory store: each request mapped onto an ActionRequest and
decided by the Authorizer; batches with their semantics, undecidable items and one nonce."""

from __future__ import annotations

from typing import Any

import pytest

from openleash.domain.errors import AuthenticationError, ForbiddenError, InvalidInputError
from openleash.domain.models import Result
from openleash.service.authzen import (
    AccessAnswers,
    AccessBatch,
    AccessDecision,
    AuthZen,
    Caller,
    Undecided,
    access_request,
)

from .conftest import World


def _authzen(world: World) -> AuthZen:
    return AuthZen(world.store, world.authorizer(), world.options)


def _request(amount_minor: int, subject: str = "shopper") -> dict[str, Any]:
    return {
        "subject": {"type": "agent", "id": subject},
        "action": {"name": "purchase"},
        "resource": {"type": "order", "id": "o-1", "properties": {"amount_minor": amount_minor}},
        "context": {"channel": "web"},
    }


async def _evaluate(world: World, body: object, caller: Caller | None = None) -> AccessDecision:
    snap = await world.runtime.snapshot()
    pep = caller or Caller(now=world.clock())
    return await _authzen(world).evaluate(snap, pep, access_request(body))


async def _evaluate_many(
    world: World, body: object, caller: Caller
) -> AccessDecision | AccessAnswers:
    snap = await world.runtime.snapshot()
    return await _authzen(world).evaluate_many(snap, caller, AccessBatch.from_body(body))


async def test_a_request_is_decided_as_the_action_it_describes(world: World) -> None:
    allowed = await _evaluate(world, _request(500))
    assert allowed.decision
    action = allowed.authorized.request.action
    assert action["payload"] == {
        "amount_minor": 500,
        "resource": {"type": "order", "id": "o-1"},
        "context": {"channel": "web"},
    }
    assert action["subject"] == {"principal_id": world.owner.user_principal_id}
    assert allowed.authorized.request.requested_at == "2026-07-01T09:00:00.000Z"
    held = await _evaluate(world, _request(50_000))
    assert not held.decision
    assert held.authorized.evaluation.result is Result.REQUIRE_APPROVAL


async def test_a_signed_agent_speaks_only_for_itself(world: World) -> None:
    signed = Caller(now=world.clock(), call=world.agent_call())
    with pytest.raises(ForbiddenError) as caught:
        await _evaluate(world, _request(500, subject="someone-else"), signed)
    assert caught.value.code == "AGENT_MISMATCH"
    with pytest.raises(InvalidInputError) as unknown:
        await _evaluate(world, _request(500, subject="someone-else"))
    assert unknown.value.code == "INVALID_AGENT"


async def test_a_batch_stops_as_its_semantic_says(world: World) -> None:
    items = [{"resource": _request(n)["resource"]} for n in (500, 50_000, 600)]
    defaults = {k: v for k, v in _request(0).items() if k != "resource"}
    body = {**defaults, "evaluations": items}
    pep = Caller(now=world.clock())
    every = await _evaluate_many(world, body, pep)
    assert isinstance(every, AccessAnswers)
    assert [isinstance(a, AccessDecision) and a.decision for a in every.evaluations] == [
        True,
        False,
        True,
    ]
    first_deny = {**body, "options": {"evaluations_semantic": "deny_on_first_deny"}}
    stopped = await _evaluate_many(world, first_deny, pep)
    assert isinstance(stopped, AccessAnswers)
    assert len(stopped.evaluations) == 2
    first_permit = {**body, "options": {"evaluations_semantic": "permit_on_first_permit"}}
    permitted = await _evaluate_many(world, first_permit, pep)
    assert isinstance(permitted, AccessAnswers)
    assert len(permitted.evaluations) == 1


async def test_an_undecidable_item_does_not_stop_the_others(world: World) -> None:
    body = {"evaluations": [_request(500), {"subject": "nobody"}, 7, _request(600)]}
    answers = await _evaluate_many(world, body, Caller(now=world.clock()))
    assert isinstance(answers, AccessAnswers)
    first, bad, worse, last = answers.evaluations
    assert isinstance(first, AccessDecision)
    assert isinstance(last, AccessDecision)
    assert bad == Undecided("INVALID_REQUEST", "subject must be a JSON object")
    assert worse == Undecided("INVALID_REQUEST", "each evaluation must be a JSON object")


async def test_a_signed_batch_spends_its_nonce_once(world: World) -> None:
    body = {"evaluations": [_request(500), _request(600)]}
    signed = Caller(now=world.clock(), call=world.agent_call("n-1"))
    answers = await _evaluate_many(world, body, signed)
    assert isinstance(answers, AccessAnswers)
    assert len(answers.evaluations) == 2
    with pytest.raises(AuthenticationError) as caught:
        await _evaluate_many(world, body, signed)
    assert caught.value.code == "NONCE_REPLAY"


async def test_a_batch_without_items_is_one_request(world: World) -> None:
    single = await _evaluate_many(
        world, {**_request(500), "evaluations": []}, Caller(now=world.clock())
    )
    assert isinstance(single, AccessDecision)
    assert single.decision
    for body, message in (
        ([], "request body must be a JSON object"),
        ({"evaluations": {}}, "evaluations must be an array"),
        (
            {"evaluations": [{}], "options": {"evaluations_semantic": "x"}},
            "options.evaluations_semantic",
        ),
        ({"evaluations": [{}] * 101}, "At most 100 evaluations"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            AccessBatch.from_body(body)
        assert caught.value.message.startswith(message)
