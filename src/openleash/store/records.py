"""What every adapter of the store keeps and answers alike, whatever it keeps it in.

The SQL adapters and the in-memory one share these: the stored form of an audit record (which
its hash covers, so it must be the same everywhere), JSON values as stored, how amounts come
back, the filters the ports accept, and the conflicts they report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

import orjson

from openleash.domain.errors import ConflictError, InvalidInputError, NotFoundError
from openleash.domain.jsonvalue import JsonObject, JsonOut, JsonValue
from openleash.domain.models import ApprovalRequest, AuditEvent
from openleash.service.ports import AuditFilter, approval_expired, approval_resolved


def dump_json(value: JsonOut | Mapping[str, object]) -> str:
    """A JSON value, or a TypedDict of JSON values, as stored (also the ``metadata_json``
    text an audit record's hash covers)."""
    return orjson.dumps(value).decode()


def load_json(text: str) -> JsonObject:
    """A stored JSON object (every JSON column holds one: attributes, actions, contexts,
    webhook data, audit metadata); ``ValueError`` for any other stored JSON."""
    value: JsonValue = orjson.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"a stored JSON column holds {type(value).__name__}, not an object")
    return value


def whole_number(value: float | int) -> float | int:
    """Amounts are 8-byte floats in every store; whole ones come back as ``int``, as
    JavaScript prints them (``100``, not ``100.0``), which also keeps them on the fast path of
    canonical JSON."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


# -- audit records ------------------------------------------------------------------------------


def event_columns(e: AuditEvent) -> tuple[str | None, ...]:
    """The event as stored, after its ``seq``: its own fields, the four that filters look up
    (copied out of the metadata when they are text), and the metadata as stored text. In the
    order of :data:`openleash.crypto.chain.CHAINED_FIELDS` (without ``seq``)."""
    meta = e.metadata_json
    return (
        e.event_id,
        e.timestamp,
        e.event_type,
        e.principal_id,
        e.action_id,
        e.decision_id,
        _text(meta.get("owner_id")),
        _text(meta.get("agent_principal_id")),
        _text(meta.get("action_type")),
        _text(meta.get("result")),
        dump_json(meta),
    )


def _text(value: object) -> str | None:
    # Only text is looked up; anything else in those keys is still kept in metadata_json.
    return value if isinstance(value, str) else None


#: The filters of ``AuditLog.page`` and ``audit_rows`` (the fields of
#: :class:`~openleash.service.ports.AuditFilter`), in the order adapters apply them. ``since``
#: and ``until`` bound the timestamp (``>=`` and ``<``); the others are equalities on the stored
#: column of the same name.
AUDIT_FILTERS = tuple(f.name for f in fields(AuditFilter))


def audit_filters(filters: AuditFilter | None) -> tuple[tuple[str, ...], list[str]]:
    """The filters given a value (None or empty means absent), and their values, in the order
    of :data:`AUDIT_FILTERS`."""
    given = {} if filters is None else filters.given()
    return tuple(given), list(given.values())


# -- usage ----------------------------------------------------------------------------------------

#: Fields of an allowed action a limit may count ``by`` (and usage be grouped by).
USAGE_BY_FIELDS = frozenset({"currency", "counterparty", "action_type"})


def check_group_by(group_by: tuple[str, ...]) -> None:
    unknown = set(group_by) - USAGE_BY_FIELDS
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}")


def check_count_by(column: str) -> None:
    if column not in USAGE_BY_FIELDS:
        raise ValueError(f"cannot count by {column!r}")


# -- bounded clean-up -----------------------------------------------------------------------------

#: Expired challenges deleted per challenge issued (more than one: the table shrinks).
CHALLENGE_PURGE_PER_ISSUE = 8


# -- conflicts ------------------------------------------------------------------------------------


def agent_id_taken(agent_id: str) -> ConflictError:
    """An ACTIVE or PENDING agent holds ``agent_id`` already (``AgentRepo.add_agent``)."""
    return ConflictError(
        "AGENT_ID_TAKEN", f'Agent id "{agent_id}" is already registered; choose another agent_id'
    )


def policy_not_found(policy_id: str) -> NotFoundError:
    """A binding names a policy that is not stored (``PolicyRepo.add_binding``)."""
    return NotFoundError("POLICY_NOT_FOUND", f"Policy {policy_id} not found")


def approval_not_resolved(found: ApprovalRequest | None, resolved_at: str) -> InvalidInputError:
    """Why ``ApprovalRepo.resolve_approval_request`` changed nothing: the request was PENDING
    but expired at ``resolved_at``, or it was not PENDING (or not there) any more."""
    if found is not None and found.status == "PENDING" and not found.expires_at > resolved_at:
        return approval_expired()
    return approval_resolved()
