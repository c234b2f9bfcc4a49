"""What every request reads, kept in memory until the store says it changed.

Agents, server keys and effective policies are loaded from the store once and reused until the
store's revision number moves (any process, including the CLI, bumps it when it changes them), so
the hot path of ``/v1/authorize`` reads one integer from the store instead of parsing YAML.

With ``refresh_seconds`` the integer itself is read at most that often, except that this process
sees its own changes at once (the store counts the commits that bumped the revision), and a
signed request naming an agent the snapshot does not know as usable looks again before it is
refused (:meth:`Runtime.recheck`): an agent enrolled or activated by another process is usable
as soon as that process answered.

INVARIANT: nothing here is called inside an open unit of work (the store refuses nesting).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Protocol

from openleash.crypto import KeyRing, canonicalize, sha256_hex
from openleash.domain.errors import NotFoundError
from openleash.domain.models import Agent, Binding, PolicyRecord, Status
from openleash.policy import Policy, merge_layers, order_bindings, parse_policy
from openleash.service.ports import AgentRepo, KeyRepo, PolicyRepo, Revisions, Units


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    policy: Policy
    policy_ids: tuple[str, ...]
    #: SHA-256 of the canonical JSON of the merged policy: which policy version decided.
    policy_hash: str
    #: Shadow mode: the merged policy of the agent's ``observe`` bindings, evaluated next to
    #: this one and recorded, never enforced.
    observed: EffectivePolicy | None = None


class Snapshot:
    """One revision of the configuration. Built lazily, never mutated by requests."""

    def __init__(self, revision: int, agents: list[Agent], keyring: KeyRing) -> None:
        self.revision = revision
        self.keyring = keyring
        self._by_agent_id: dict[str, Agent] = {}
        for agent in agents:
            # INVARIANT: at most one agent per agent_id that is not REVOKED (store constraint);
            # prefer it, and among old revoked ones the newest.
            known = self._by_agent_id.get(agent.agent_id)
            if known is None or _preferred(agent, known):
                self._by_agent_id[agent.agent_id] = agent
        self._effective: dict[str, EffectivePolicy | None] = {}

    def agent(self, agent_id: str) -> Agent | None:
        return self._by_agent_id.get(agent_id)


def _preferred(candidate: Agent, known: Agent) -> bool:
    if (candidate.status == Status.REVOKED) != (known.status == Status.REVOKED):
        return candidate.status != Status.REVOKED
    return candidate.created_at > known.created_at


class ConfigTx(AgentRepo, KeyRepo, PolicyRepo, Protocol):
    """What the caches load: agents, keys, bindings and policies."""


class ConfigSource(Units[ConfigTx], Revisions, Protocol):
    """The store as the caches see it: read units, and the revision that says when to reload."""


class Runtime:
    """Caches keyed by the store revision; also a parsed-policy cache across revisions."""

    def __init__(self, store: ConfigSource, refresh_seconds: float = 0.0) -> None:
        self._store = store
        self._snapshot: Snapshot | None = None
        self._parsed: dict[tuple[str, str], Policy] = {}
        self._refresh = refresh_seconds
        self._checked_at = 0.0
        self._local_seen = -1
        self._recheck_lock = asyncio.Lock()

    async def snapshot(self) -> Snapshot:
        current = self._snapshot
        moment = time.monotonic()
        local = self._store.local_revision()
        if (
            current is not None
            and local == self._local_seen
            and moment - self._checked_at < self._refresh
        ):
            return current
        return await self._load(moment, local)

    async def recheck(self, snap: Snapshot) -> Snapshot:
        """A snapshot at least as new as the store when this was called, whatever the refresh
        interval: for an agent ``snap`` does not know as usable, before refusing it.

        Bounded for made-up agent ids: rechecks run one at a time, each one that waited uses a
        revision read begun after it arrived instead of its own, and only a moved revision
        reloads."""
        arrived = time.monotonic()
        async with self._recheck_lock:
            current = self._snapshot
            if current is not None and self._checked_at >= arrived:
                return current if current.revision >= snap.revision else snap
            return await self._load(time.monotonic(), self._store.local_revision())

    async def _load(self, moment: float, local: int) -> Snapshot:
        """Read the revision (begun at ``moment``, after this process's change count was
        ``local``) and reload if it moved; a slower concurrent load never installs an older
        snapshot over a newer one."""
        current = self._snapshot
        revision = await self._store.revision()
        if current is None or current.revision != revision:
            async with self._store.read() as tx:
                agents = await tx.list_agents()
                keys = await tx.list_keys()
            current = Snapshot(revision, agents, KeyRing(keys))
            installed = self._snapshot
            if installed is None or installed.revision <= revision:
                self._snapshot = current
        # Only once the snapshot is in place: a recheck that sees this time uses it.
        self._checked_at = max(self._checked_at, moment)
        self._local_seen = local
        return current

    def invalidate(self) -> None:
        self._snapshot = None

    async def effective_policy(self, snap: Snapshot, agent: Agent) -> EffectivePolicy | None:
        """The merged policy of an agent's bindings, or None when nothing is bound."""
        if agent.agent_principal_id in snap._effective:
            return snap._effective[agent.agent_principal_id]
        async with self._store.read() as tx:
            bindings = await tx.list_bindings(agent.owner_type, agent.owner_id)
            ordered = order_bindings(bindings, agent.agent_principal_id, ())
            records = {b.policy_id: await tx.get_policy(b.policy_id) for b in ordered}
        enforced = [b for b in ordered if b.mode != "observe"]
        observed = [b for b in ordered if b.mode == "observe"]
        result = None
        if enforced:
            result = self._merge(enforced, records)
            if observed:
                result = replace(result, observed=self._merge(observed, records))
        snap._effective[agent.agent_principal_id] = result
        return result

    def _merge(
        self, bindings: list[Binding], records: dict[str, PolicyRecord | None]
    ) -> EffectivePolicy:
        present = [r for r in (records[b.policy_id] for b in bindings) if r is not None]
        if not present:
            raise NotFoundError("POLICY_NOT_FOUND", "Bound policy not found")
        merged = merge_layers([self._parse(r) for r in present])
        digest = sha256_hex(canonicalize(merged.canonical_data()))
        return EffectivePolicy(merged, tuple(r.policy_id for r in present), digest)

    def _parse(self, record: PolicyRecord) -> Policy:
        key = (record.policy_id, record.policy_yaml)
        parsed = self._parsed.get(key)
        if parsed is None:
            # A stored policy was validated when stored; one that no longer parses (an older
            # version's data) fails closed: the request errors instead of being allowed.
            parsed = parse_policy(record.policy_yaml)
            self._parsed[key] = parsed
        return parsed
