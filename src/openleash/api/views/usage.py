"""The JSON of an agent's use of its limits: ``GET /v1/agent/usage``, the owner's and the
admin's view of an agent, and the portal's usage page."""

from __future__ import annotations

from openleash.domain.jsonvalue import JsonOut
from openleash.service.usage import AgentUsage, LimitUsage, UsageRow


def usage_json(usage: AgentUsage) -> dict[str, JsonOut]:
    return {
        "agent_principal_id": usage.agent_principal_id,
        "agent_id": usage.agent_id,
        "as_of": usage.as_of,
        "policy_hash": usage.policy_hash,
        "limits": [_limit_json(limit) for limit in usage.limits],
    }


def _limit_json(limit: LimitUsage) -> dict[str, JsonOut]:
    return {
        "rule_id": limit.rule_id,
        "action": limit.action,
        "kind": limit.kind,
        "max": limit.max,
        "window": limit.window,
        "per": limit.per,
        "by": list(limit.by),
        "since": limit.since,
        "usage": [_row_json(row) for row in limit.usage],
    }


def _row_json(row: UsageRow) -> dict[str, JsonOut]:
    return {
        "by": dict(row.by),
        "used": row.used,
        "count": row.count,
        "remaining": row.remaining,
    }
