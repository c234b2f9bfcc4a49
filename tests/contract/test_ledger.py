"""Allowed actions: recorded with the decision, counted by limits."""

from __future__ import annotations

from openleash.domain.models import AllowedAction, UsageFilter
from openleash.service.ports import Store


def allowed(
    n: int,
    *,
    agent: str = "agent-a",
    action_type: str = "purchase",
    currency: str | None = "USD",
    counterparty: str | None = "shop.example",
    amount: float | None = 100,
    at_ms: int = 1_000,
    owner: str = "owner-1",
) -> AllowedAction:
    return AllowedAction(f"d-{n}", owner, agent, action_type, currency, counterparty, amount, at_ms)


async def fill(store: Store, *entries: AllowedAction) -> None:
    async with store.transaction() as tx:
        for entry in entries:
            await tx.record_allowed(entry)


async def usage(store: Store, **kw: object) -> tuple[float, int]:
    where = UsageFilter(**{"owner_id": "owner-1", "since_ms": 0, **kw})
    async with store.read() as tx:
        return await tx.usage(where)  # type: ignore[arg-type]


async def test_sums_and_counts_within_the_window(store: Store) -> None:
    await fill(
        store,
        allowed(1, at_ms=500),
        allowed(2, at_ms=1_500, amount=250),
        allowed(3, at_ms=20_000),
    )
    assert await usage(store) == (450, 3)
    assert await usage(store, since_ms=1_000) == (350, 2)
    assert await usage(store, since_ms=1_501) == (100, 1)
    assert await usage(store, since_ms=20_001) == (0, 0)


async def test_windows_over_a_busy_stream_are_exact(store: Store) -> None:
    await fill(store, *(allowed(n, at_ms=n * 10, amount=n) for n in range(1, 501)))
    for since in (0, 5, 10, 11, 2_500, 4_999, 5_000, 5_001):
        expected = [n for n in range(1, 501) if n * 10 >= since]
        assert await usage(store, since_ms=since) == (sum(expected), len(expected))


async def test_an_action_never_goes_before_the_last_of_its_stream(store: Store) -> None:
    # Two processes with clocks a few ms apart: the later write keeps the stream in order.
    await fill(store, allowed(1, at_ms=1_000), allowed(2, at_ms=990, amount=5))
    assert await usage(store, since_ms=995) == (105, 2)


async def test_per_agent_and_per_owner(store: Store) -> None:
    await fill(store, allowed(1), allowed(2, agent="agent-b"), allowed(3, owner="owner-2"))
    assert await usage(store) == (200, 2)
    assert await usage(store, agent_principal_id="agent-b") == (100, 1)


async def test_action_patterns(store: Store) -> None:
    await fill(
        store,
        allowed(1, action_type="payment"),
        allowed(2, action_type="payment.card"),
        allowed(3, action_type="paymentx"),
        allowed(4, action_type="purchase"),
    )
    assert (await usage(store, action_prefix="payment"))[1] == 2
    assert (await usage(store, action_exact="payment"))[1] == 1
    assert (await usage(store))[1] == 4


async def test_by_fields_and_missing_values(store: Store) -> None:
    await fill(
        store,
        allowed(1, currency="USD"),
        allowed(2, currency="EUR", amount=7),
        allowed(3, currency=None, amount=None),
    )
    assert await usage(store, by=(("currency", "EUR"),)) == (7, 1)
    assert await usage(store, by=(("currency", None),)) == (0, 1)
    assert await usage(store, by=(("currency", "USD"), ("counterparty", "shop.example"))) == (
        100,
        1,
    )


async def test_allowed_before_counts_a_counterparty(store: Store) -> None:
    await fill(store, allowed(1), allowed(2), allowed(3, counterparty="other.example"))
    async with store.read() as tx:
        assert await tx.allowed_before("owner-1", "shop.example") == 2
        assert await tx.allowed_before("owner-1", "new.example") == 0


async def test_usage_groups_by_fields(store: Store) -> None:
    await fill(
        store,
        allowed(1, currency="USD", amount=10),
        allowed(2, currency="EUR", amount=7),
        allowed(3, currency="USD", amount=5, at_ms=3_000),
        allowed(4, currency=None, amount=1),
    )
    where = UsageFilter(owner_id="owner-1", since_ms=0)
    async with store.read() as tx:
        groups = await tx.usage_groups(where, ("currency",))
        later = await tx.usage_groups(
            UsageFilter(owner_id="owner-1", since_ms=2_000), ("currency",)
        )
    assert sorted(groups, key=repr) == sorted(
        [(("EUR",), 7, 1), (("USD",), 15, 2), ((None,), 1, 1)], key=repr
    )
    assert later == [(("USD",), 5, 1)]


async def test_whole_amounts_come_back_as_integers(store: Store) -> None:
    await fill(store, allowed(1, amount=100), allowed(2, amount=2.5))
    amount, _ = await usage(store, by=(("currency", "USD"),))
    assert amount == 102.5
    await fill(store, allowed(3, amount=0.5))
    amount, count = await usage(store)
    assert (amount, count) == (103, 3)
    assert type(amount) is int
