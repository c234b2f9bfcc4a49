"""What the operator at the server's host does from the command line.

The HTTP API makes callers name everything; on the host the store can supply the obvious
default: the only owner there is, or the policy added last.
"""

from __future__ import annotations

from typing import Any

from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from openleash.service.options import Options
from openleash.service.policies import upsert_policy, validate_policy
from openleash.service.ports import Store
from openleash.service.public import playground_run


async def _sole_owner(store: Store, policy_id: str | None) -> str | None:
    """The owner a new policy goes to when none is named: the only one there is. None when
    ``policy_id`` names an existing policy (an update keeps its owner)."""
    async with store.read() as tx:
        if policy_id and await tx.get_policy(policy_id) is not None:
            return None
        owners = await tx.list_owners()
    if len(owners) == 1:
        return owners[0].user_principal_id
    choices = [
        {"user_principal_id": o.user_principal_id, "display_name": o.display_name} for o in owners
    ]
    if not owners:
        raise InvalidInputError(
            "INVALID_REQUEST", "No owner exists yet; create one first", {"owners": choices}
        )
    raise InvalidInputError(
        "INVALID_REQUEST", f"{len(owners)} owners exist; name the owner", {"owners": choices}
    )


async def upsert_policy_default_owner(
    store: Store,
    *,
    owner_id: str | None,
    policy_yaml: str,
    options: Options,
    policy_id: str | None = None,
    applies_to_agent: str | None = None,
    name: str | None = None,
    mode: str = "enforce",
) -> dict[str, Any]:
    """:func:`~openleash.service.policies.upsert_policy`, with the sole owner as the default
    owner of a new policy. ``INVALID_REQUEST`` with ``details.owners`` when there is no single
    owner to default to."""
    validate_policy(policy_yaml)  # a broken policy is reported before any question of owner
    if owner_id is None:
        owner_id = await _sole_owner(store, policy_id)
    return await upsert_policy(
        store,
        owner_id=owner_id,
        policy_yaml=policy_yaml,
        options=options,
        policy_id=policy_id,
        applies_to_agent=applies_to_agent,
        name=name,
        mode=mode,
    )


async def playground_run_stored(
    store: Store,
    action: Any,
    options: Options,
    *,
    policy_id: str | None = None,
    fallback_policy_yaml: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``action`` against a stored policy: ``policy_id``, else the one added last,
    else ``fallback_policy_yaml``. The answer names the policy used (``policy_id`` None for
    the fallback). Nothing is recorded, as with every playground run."""
    async with store.read() as tx:
        if policy_id is not None:
            chosen = await tx.get_policy(policy_id)
            if chosen is None:
                raise NotFoundError("POLICY_NOT_FOUND", f"Policy {policy_id} not found")
        else:
            stored = await tx.list_policies()
            chosen = max(stored, key=lambda p: p.created_at) if stored else None
    if chosen is not None:
        result = playground_run({"policy_yaml": chosen.policy_yaml, "action": action}, options)
        return {**result, "policy": {"policy_id": chosen.policy_id, "name": chosen.name}}
    if fallback_policy_yaml is None:
        raise ForbiddenError("NO_POLICY", "No policy is stored")
    result = playground_run({"policy_yaml": fallback_policy_yaml, "action": action}, options)
    return {**result, "policy": {"policy_id": None, "name": None}}
