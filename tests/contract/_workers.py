"""Process entry points for the concurrency tests (importable, as the spawn start method needs).

``url`` names the store as ``open_store`` reads it: a SQLite file path or a PostgreSQL URL.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from openleash.domain.models import AuditEvent
from openleash.store import open_store

from .refusals import outcome


def claim_nonces(url: str, worker: int, nonces: list[str], start: Barrier, out: Queue[Any]) -> None:
    """Try every nonce once, in a random order; each attempt also appends an audit event."""
    try:
        won = asyncio.run(_claim(url, worker, nonces, start))
        out.put((worker, won))
    except BaseException:
        out.put((worker, traceback.format_exc()))


async def _claim(url: str, worker: int, nonces: list[str], start: Barrier) -> list[str]:
    store = await open_store(url)
    order = list(nonces)
    random.Random(worker).shuffle(order)
    won = []
    start.wait(timeout=15)
    try:
        for nonce in order:
            async with store.transaction() as tx:
                ok = await outcome(tx.use_nonce("agent-a", nonce, 1_000, 601_000)) == "ok"
                await tx.append([_event(worker, nonce, ok)])
            if ok:
                won.append(nonce)
    finally:
        await store.close()
    return won


def _event(worker: int, nonce: str, won: bool) -> AuditEvent:
    return AuditEvent(
        event_id=f"{worker}:{nonce}",
        timestamp="2026-01-01T00:00:00.000Z",
        event_type="NONCE_WON" if won else "NONCE_REPLAY",
        principal_id=f"worker-{worker}",
        action_id=None,
        decision_id=None,
        metadata_json={"owner_id": f"worker-{worker}", "nonce": nonce},
    )


def open_fresh(url: str, worker: int, start: Barrier, out: Queue[Any]) -> None:
    """Open (and so migrate) a database that another process may be creating at this moment."""
    try:
        start.wait(timeout=15)
        out.put((worker, asyncio.run(_revision(url))))
    except BaseException:
        out.put((worker, traceback.format_exc()))


async def _revision(url: str) -> int:
    store = await open_store(url)
    try:
        return await store.revision()
    finally:
        await store.close()
