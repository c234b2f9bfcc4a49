"""Signing keys: the first made once, rotation, revocation and its refusals."""

from __future__ import annotations

import pytest

from openleash.domain.errors import ConflictError, NotFoundError
from openleash.service.keys import Keys

from .conftest import World


async def test_keys_rotate_and_the_old_one_is_revoked(world: World) -> None:
    keys = Keys(world.store, world.options)
    await keys.ensure()
    (first,) = await keys.list_all()
    rotated = await keys.rotate()
    await keys.revoke(first.kid)
    await keys.revoke(first.kid)  # again: nothing changes
    old, new = await keys.list_all()
    assert (old.kid, old.revoked_at is not None, old.active) == (first.kid, True, False)
    assert (new.kid, new.active) == (rotated.kid, True)
    assert (await world.audit_types()).count("KEY_REVOKED") == 1


async def test_the_active_or_an_unknown_key_is_not_revoked(world: World) -> None:
    keys = Keys(world.store, world.options)
    (active,) = await keys.list_all()
    with pytest.raises(ConflictError) as refused:
        await keys.revoke(active.kid)
    assert refused.value.code == "KEY_ACTIVE"
    with pytest.raises(NotFoundError):
        await keys.revoke("nope")
