"""What an agent (or its owner, or the admin) reads of it: its own record, and its use of the
limits of its effective policy."""

from __future__ import annotations

import pytest

from openleash.domain.errors import AuthenticationError, NotFoundError
from openleash.service.agents import AgentSelf
from openleash.service.policies import Policies, PolicyUpsert
from openleash.service.usage import Usage, UsageRow

from .conftest import World

LIMITED = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    limits:
      - spend: 5000
        window: 24h
      - count: 3
        window: 1h
        by: [currency]
"""


def _usage(world: World) -> Usage:
    return Usage(world.store, world.runtime, world.options)


def _purchase(world: World, amount_minor: int, currency: str) -> dict[str, object]:
    bought = world.purchase(amount_minor)
    bought["payload"] = {"amount_minor": amount_minor, "currency": currency}
    return bought


async def _limited(world: World) -> None:
    async with world.store.read() as tx:
        (policy,) = await tx.list_policies(world.owner.user_principal_id)
    await Policies(world.store, world.options).upsert(
        PolicyUpsert(LIMITED, policy_id=policy.policy_id)
    )


async def test_an_agent_reads_itself_once_per_nonce(world: World) -> None:
    reader = AgentSelf(world.store, world.options)
    assert await reader.read(world.agent_call("n-1")) == world.agent
    with pytest.raises(AuthenticationError) as caught:
        await reader.read(world.agent_call("n-1"))
    assert caught.value.code == "NONCE_REPLAY"


async def test_usage_counts_what_was_allowed_in_each_window(world: World) -> None:
    await _limited(world)
    await world.authorize(_purchase(world, 1200, "USD"))
    await world.authorize(_purchase(world, 300, "EUR"))
    await world.authorize(_purchase(world, 20_000, "USD"))  # denied: counts nothing
    report = await _usage(world).for_agent(world.agent_call())
    assert (report.agent_id, report.as_of) == (world.agent.agent_id, "2026-07-01T09:00:00.000Z")
    assert report.policy_hash is not None
    spend, count = report.limits
    assert (spend.rule_id, spend.kind, spend.max, spend.by) == ("small", "spend", 5000, ())
    assert spend.usage == (UsageRow(by=(), used=1500, count=2, remaining=3500),)
    assert (count.kind, count.by, count.since) == (
        "count",
        ("currency",),
        "2026-07-01T08:00:00.000Z",
    )
    assert sorted(count.usage, key=lambda row: str(row.by)) == [
        UsageRow(by=(("currency", "EUR"),), used=1, count=1, remaining=2),
        UsageRow(by=(("currency", "USD"),), used=1, count=1, remaining=2),
    ]


async def test_the_agent_call_uses_up_its_nonce(world: World) -> None:
    usage = _usage(world)
    report = await usage.for_agent(world.agent_call("n-2"))
    assert report.limits == (), "the world's policy sets no limits"
    with pytest.raises(AuthenticationError):
        await usage.for_agent(world.agent_call("n-2"))


async def test_an_owner_reads_only_its_own_agents(world: World) -> None:
    usage = _usage(world)
    agent_id = world.agent.agent_principal_id
    mine = await usage.of_agent(agent_id, owner_id=world.owner.user_principal_id)
    assert mine.agent_principal_id == agent_id
    assert (await usage.of_agent(agent_id)).agent_principal_id == agent_id, "the admin's view"
    for owner_id in ("someone-else", None):
        with pytest.raises(NotFoundError):
            await usage.of_agent(
                "no-such-agent" if owner_id is None else agent_id, owner_id=owner_id
            )
