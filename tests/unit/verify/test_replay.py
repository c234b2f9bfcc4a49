"""Replay caches: a decision is claimed once, remembered until its proof expires."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from openleash.verify import InMemoryReplayCache, ReplayCache, SQLiteReplayCache
from tests.support.live import REPO, cli_env
from tests.unit.verify.issuer import NOW

LATER = NOW + timedelta(minutes=2)


def test_in_memory_cache_claims_once_and_forgets_after_expiry() -> None:
    cache = InMemoryReplayCache()
    assert isinstance(cache, ReplayCache)
    assert cache.claim("d-1", LATER, NOW)
    assert not cache.claim("d-1", LATER, NOW)
    assert cache.claim("d-2", NOW + timedelta(seconds=1), NOW)
    assert len(cache) == 2
    # Past both expiries the cache holds nothing: its size is bounded by live proofs.
    assert cache.claim("d-3", LATER + timedelta(minutes=5), LATER)
    assert len(cache) == 1


def test_sqlite_cache_is_shared_by_every_connection_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "replay.sqlite"
    with SQLiteReplayCache(path) as first, SQLiteReplayCache(path) as second:
        assert isinstance(first, ReplayCache)
        assert first.claim("d-1", LATER, NOW)
        assert not second.claim("d-1", LATER, NOW)
        assert second.claim("d-2", LATER, NOW)
        assert len(first) == 2
    with SQLiteReplayCache(path) as reopened:
        assert not reopened.claim("d-2", LATER, NOW)


def test_sqlite_cache_purges_expired_entries(tmp_path: Path) -> None:
    with SQLiteReplayCache(tmp_path / "r.sqlite") as cache:
        cache.claim("old", NOW, NOW - timedelta(minutes=1))
        cache.claim("new", LATER, NOW)  # the first claim of a connection purges
        assert len(cache) == 2
        reopened = SQLiteReplayCache(tmp_path / "r.sqlite")
        reopened.claim("newer", LATER, NOW)
        assert len(reopened) == 2
        reopened.close()


CLAIMER = """
import sys
from datetime import UTC, datetime, timedelta
from openleash.verify import SQLiteReplayCache
now = datetime.now(UTC)
cache = SQLiteReplayCache(sys.argv[1])
won = sum(cache.claim(f"d-{i}", now + timedelta(minutes=5), now) for i in range(300))
print(won)
"""


def test_sqlite_cache_lets_one_process_of_many_claim_each_decision(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    SQLiteReplayCache(path).close()  # create the file (and WAL mode) before the race
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, path],
            stdout=subprocess.PIPE,
            text=True,
            env=cli_env(),
            cwd=REPO,
        )
        for _ in range(3)
    ]
    wins = [int(p.communicate(timeout=60)[0]) for p in processes]
    assert sum(wins) == 300
