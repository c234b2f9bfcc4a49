"""The size of each process's PostgreSQL pool, set on the store URL (``?pool_size=N`` and
``?pool_min=N``), which the store takes out of the URL before connecting."""

from __future__ import annotations

import pytest

from openleash.domain.errors import OpenLeashError
from openleash.store import open_store
from openleash.store.sql.postgres import POOL_MIN, POOL_SIZE, PostgresStore, pool_options

URL = "postgresql://openleash:pw@db.internal:5432/openleash"


def test_without_parameters_the_defaults_apply() -> None:
    assert pool_options(URL) == (URL, POOL_SIZE, POOL_MIN)


def test_the_pool_parameters_are_taken_out_and_the_others_kept_as_written() -> None:
    url = f"{URL}?sslmode=require&pool_size=16&options=-c%20search_path%3Dx&pool_min=4"
    assert pool_options(url) == (
        f"{URL}?sslmode=require&options=-c%20search_path%3Dx",
        16,
        4,
    )
    assert pool_options(f"{URL}?pool_size=3") == (URL, 3, POOL_MIN)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("pool_size=1", "pool_size must be a whole number of at least 2"),
        ("pool_size=lots", "got 'lots'"),
        ("pool_size=", "pool_size must be"),
        ("pool_min=0", "pool_min must be a whole number of at least 1"),
        ("pool_size=4&pool_min=5", "pool_min (5) must not be more than pool_size (4)"),
    ],
)
def test_bad_pool_parameters_say_what_to_fix(query: str, fragment: str) -> None:
    with pytest.raises(OpenLeashError) as caught:
        pool_options(f"{URL}?{query}")
    assert caught.value.code == "VALIDATION_ERROR"
    assert fragment in caught.value.message
    assert "pw" not in caught.value.message


async def test_the_url_sizes_the_pool_of_an_opened_store(postgres_url: str) -> None:
    store = await open_store(f"{postgres_url}?pool_size=3&pool_min=2")
    assert isinstance(store, PostgresStore)
    try:
        # The server never saw the parameters (it refuses settings it does not know).
        assert await store.revision() == 0
        pool = store._pool
        assert (pool.get_min_size(), pool.get_max_size()) == (2, 3)
        assert pool.get_size() >= 2
    finally:
        await store.close()


async def test_an_explicit_size_wins_over_the_url(postgres_url: str) -> None:
    store = await PostgresStore.open(f"{postgres_url}?pool_size=5", pool_size=2)
    try:
        assert store._pool.get_max_size() == 2
    finally:
        await store.close()
