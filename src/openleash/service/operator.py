"""What the operator at the server's host does from the command line.

The HTTP API makes callers name everything; on the host the store can supply the obvious
default: the only owner there is, or the policy added last.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from openleash.domain.jsonvalue import JsonValue
from openleash.domain.models import PolicyRecord
from openleash.service.options import Options
from openleash.service.policies import Policies, PolicyUpsert, validate_policy
from openleash.service.ports import OwnerRepo, PolicyRepo, Units
from openleash.service.public import (
    PlaygroundAnswer,
    PlaygroundRun,
    StoredPolicyAnswer,
    playground_run,
)


class OperatorTx(OwnerRepo, PolicyRepo, Protocol):
    """The store roles the operator's defaults read."""


class Operator:
    """The operator's use cases at the host: the store supplies the defaults the HTTP API
    makes callers name."""

    def __init__(self, store: Units[OperatorTx], policies: Policies, options: Options) -> None:
        self._store = store
        self._policies = policies
        self._options = options

    async def upsert_policy(self, command: PolicyUpsert) -> PolicyRecord:
        """:meth:`Policies.upsert`, with the sole owner as the default owner of a new policy.
        ``INVALID_REQUEST`` with ``details.owners`` when there is no single owner to default
        to."""
        validate_policy(command.policy_yaml)  # a broken policy is reported before any owner
        if command.owner_id is None:
            command = replace(command, owner_id=await self._sole_owner(command.policy_id))
        return await self._policies.upsert(command)

    async def _sole_owner(self, policy_id: str | None) -> str | None:
        """The owner a new policy goes to when none is named: the only one there is. None
        when ``policy_id`` names an existing policy (an update keeps its owner)."""
        async with self._store.read() as tx:
            if policy_id and await tx.get_policy(policy_id) is not None:
                return None
            owners = await tx.list_owners()
        if len(owners) == 1:
            return owners[0].user_principal_id
        choices = [
            {"user_principal_id": o.user_principal_id, "display_name": o.display_name}
            for o in owners
        ]
        if not owners:
            raise InvalidInputError(
                "INVALID_REQUEST", "No owner exists yet; create one first", {"owners": choices}
            )
        raise InvalidInputError(
            "INVALID_REQUEST", f"{len(owners)} owners exist; name the owner", {"owners": choices}
        )

    async def playground_run(
        self,
        action: JsonValue,
        *,
        policy_id: str | None = None,
        fallback_policy_yaml: str | None = None,
    ) -> StoredPolicyAnswer:
        """Evaluate ``action`` against a stored policy: ``policy_id``, else the one added
        last, else ``fallback_policy_yaml``. The answer names the policy used (``policy_id``
        None for the fallback). Nothing is recorded, as with every playground run."""
        async with self._store.read() as tx:
            if policy_id is not None:
                chosen = await tx.get_policy(policy_id)
                if chosen is None:
                    raise NotFoundError("POLICY_NOT_FOUND", f"Policy {policy_id} not found")
            else:
                stored = await tx.list_policies()
                chosen = max(stored, key=lambda p: p.created_at) if stored else None
        options = self._options
        if chosen is not None:
            run = PlaygroundRun.from_body({"policy_yaml": chosen.policy_yaml, "action": action})
            return _with_policy(playground_run(run, options), chosen.policy_id, chosen.name)
        if fallback_policy_yaml is None:
            raise ForbiddenError("NO_POLICY", "No policy is stored")
        run = PlaygroundRun.from_body({"policy_yaml": fallback_policy_yaml, "action": action})
        return _with_policy(playground_run(run, options), None, None)


def _with_policy(
    answer: PlaygroundAnswer, policy_id: str | None, name: str | None
) -> StoredPolicyAnswer:
    return {
        "action_hash": answer["action_hash"],
        "decision": answer["decision"],
        "debug": answer["debug"],
        "policy": {"policy_id": policy_id, "name": name},
    }
