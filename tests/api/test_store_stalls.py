"""A store that stalls or cannot write never freezes the server, and health tells the truth.

The SQLite file is held by someone else (the cross-process lock file, or SQLite's own write lock
taken by a connection that does not use that file): decisions are answered 503
``STORE_UNAVAILABLE`` within ``store.timeout_seconds``, health answers fast, other requests are
served meanwhile, and all is well again once the holder lets go. A store that cannot write
(``SQLITE_FULL``) makes health 503 ``failing`` until writes succeed again.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from openleash.config import Settings
from openleash.store.sql.sqlite import SqliteStore
from tests.api.conftest import Api, running_api

#: The store's bound in these tests, and the slack allowed on top of it (a slow, shared machine).
TIMEOUT = 0.5
SLACK = 1.0
#: How long health may take at most, stalled store or not (its own bound is one second).
HEALTH_BOUND = 1.0 + SLACK


@pytest.fixture
def stall_api(tmp_path: Path) -> Iterator[Api]:
    yield from running_api(
        Settings(
            data_dir=tmp_path / "data",
            admin_token="s3cret-admin-token",
            store_timeout_seconds=TIMEOUT,
        )
    )


def _db(api: Api) -> Path:
    store = api.services.store
    assert isinstance(store, SqliteStore)
    return store.path


#: The longest a holder keeps the store, should the server under test hang: the test then fails
#: (too slow) rather than waiting forever for a lock it holds itself.
HOLD_MAX = 4.0


def _hold_lock_file(api: Api, release: threading.Event, ready: threading.Event) -> None:
    """The cross-process write lock, held as another process would (its own open file)."""
    fd = os.open(f"{_db(api)}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        ready.set()
        release.wait(HOLD_MAX)
    finally:
        os.close(fd)  # lets the lock go


def _hold_sqlite_write_lock(api: Api, release: threading.Event, ready: threading.Event) -> None:
    """SQLite's own write lock, held by a connection that knows nothing of the lock file (the
    ``sqlite3`` shell, a backup tool)."""
    with closing(sqlite3.connect(_db(api), isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        release.wait(HOLD_MAX)
        other.execute("ROLLBACK")


HOLDERS: dict[str, Callable[[Api, threading.Event, threading.Event], None]] = {
    "lock file": _hold_lock_file,
    "sqlite write lock": _hold_sqlite_write_lock,
}


@contextmanager
def _held(api: Api, holder: str) -> Iterator[None]:
    """The store held by someone else (a thread of the test, with its own file or connection)
    until the block ends, or for :data:`HOLD_MAX` at most."""
    release, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=HOLDERS[holder], args=(api, release, ready))
    thread.start()
    try:
        assert ready.wait(5)
        yield
    finally:
        release.set()
        thread.join()


def _decide(api: Api, amount: int = 100) -> tuple[Any, float]:
    started = time.monotonic()
    act = api.agent.action(amount_minor=amount, currency="USD")
    response = api.signed("POST", "/v1/authorize", json.dumps(act).encode())
    return response, time.monotonic() - started


def _health(api: Api) -> tuple[Any, float]:
    started = time.monotonic()
    response = api.client.get("/v1/health")
    return response, time.monotonic() - started


@pytest.mark.parametrize("holder", list(HOLDERS))
def test_a_held_store_answers_503_in_time_and_the_loop_keeps_serving(
    stall_api: Api, holder: str
) -> None:
    api = stall_api
    assert isinstance(api.services.store, SqliteStore)
    assert api.services.store.timeout == TIMEOUT  # store.timeout_seconds reaches the store
    assert _decide(api)[0].status_code == 200
    outcome: dict[str, Any] = {}

    def decide_in_background() -> None:
        outcome["response"], outcome["seconds"] = _decide(api)

    with _held(api, holder):
        waiting = threading.Thread(target=decide_in_background)
        waiting.start()
        time.sleep(TIMEOUT / 5)  # the decision is waiting for the store now
        started = time.monotonic()
        cheap = api.client.get("/v1/agents/policy-schema")
        cheap_seconds = time.monotonic() - started
        still_waiting = waiting.is_alive()
        health, health_seconds = _health(api)
        waiting.join(timeout=TIMEOUT + 10)
        assert not waiting.is_alive()

    # Another request was served while the decision waited: the event loop was free.
    assert cheap.status_code == 200
    assert still_waiting
    assert cheap_seconds < TIMEOUT / 2
    response, seconds = outcome["response"], outcome["seconds"]
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "STORE_UNAVAILABLE"
    assert "did not answer" in error["message"]
    assert seconds < TIMEOUT + SLACK
    assert health.status_code == 503
    assert health.json()["store"] == "unavailable"
    assert health_seconds < HEALTH_BOUND
    # Once the holder lets go, everything works again, without a restart.
    allowed, _ = _decide(api)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["result"] == "ALLOW"
    health, _ = _health(api)
    assert health.status_code == 200
    assert health.json()["store"] == "ok"


def test_a_decision_refused_for_a_stall_is_never_recorded(stall_api: Api) -> None:
    api = stall_api
    before = _audit_count(api)
    with _held(api, "lock file"):
        response, _ = _decide(api)
        assert response.status_code == 503
        time.sleep(TIMEOUT)  # nothing is left waiting to write it once the lock is free
    assert _decide(api)[0].status_code == 200
    assert _audit_count(api) == before + 1  # the decision that went through, only


def _audit_count(api: Api) -> int:
    with closing(sqlite3.connect(_db(api))) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0])


async def _limit_pages(store: SqliteStore, pages: int | None) -> None:
    """``PRAGMA max_page_count`` on the store's writing connection: past it, SQLite refuses to
    grow the file with ``SQLITE_FULL``, as it does when the disk is full."""
    conn = store._conn
    if pages is None:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages:d}")
    else:
        conn.execute(f"PRAGMA max_page_count = {pages:d}")


def test_health_reports_failing_while_writes_fail_and_recovers_after(stall_api: Api) -> None:
    api = stall_api
    store = api.services.store
    assert isinstance(store, SqliteStore)
    assert _health(api)[0].status_code == 200
    api.run(_limit_pages(store, None))
    refused = None
    for amount in range(100, 160):  # each decision adds rows: the file must grow soon
        response, _ = _decide(api, amount)
        assert response.status_code in (200, 503), response.text
        if response.status_code == 503:
            refused = response
            break
    assert refused is not None, "the store never ran out of pages"
    assert refused.json()["error"]["code"] == "STORE_UNAVAILABLE"
    health, seconds = _health(api)
    assert health.status_code == 503
    assert health.json()["store"] == "failing"
    assert health.json()["status"] == "unavailable"
    assert seconds < HEALTH_BOUND
    api.run(_limit_pages(store, 1_073_741_823))  # room again
    assert _decide(api)[0].status_code == 200
    health, _ = _health(api)
    assert health.status_code == 200
    assert health.json()["store"] == "ok"
