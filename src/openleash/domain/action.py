"""The ActionRequest: validated and stripped exactly as the TypeScript server does (inv §4.1).

Unknown keys are removed at the top level and inside ``principal``, ``subject`` and
``relying_party``; ``payload`` is kept verbatim. The action hash is computed over the result,
so stripping must match or hashes differ.
"""

from __future__ import annotations

import re
from typing import NotRequired, TypedDict

from openleash.domain.errors import InvalidInputError
from openleash.domain.jsonvalue import JsonObject, JsonValue

# Fix (PROTOCOL §3.6): any 8-4-4-4-12 hex UUID, not only RFC 9562 versions.
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
TRUST_PROFILES = ("LOW", "MEDIUM", "HIGH", "REGULATED")

_TYPE_NAMES = {str: "string", dict: "object", list: "array", bool: "boolean"}


class ActionPrincipal(TypedDict):
    """The agent that acts."""

    agent_id: str


class ActionSubject(TypedDict):
    """Whom the agent acts for."""

    principal_id: str


class ActionRelyingParty(TypedDict, total=False):
    """The service the action deals with, as the agent names it (each key only if sent)."""

    rp_id: str
    domain: str
    #: One of :data:`TRUST_PROFILES`.
    trust_profile: str


class ActionDoc(TypedDict):
    """An ActionRequest as :func:`parse_action` returns it: keys in this order, unknown keys
    gone, ``payload`` as the agent sent it (its shape is the agent's to choose)."""

    action_id: str
    action_type: str
    requested_at: str
    principal: ActionPrincipal
    subject: ActionSubject
    relying_party: NotRequired[ActionRelyingParty]
    payload: JsonObject


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class _Missing:
    """A key the request leaves out (``undefined`` in the TypeScript messages)."""

    __slots__ = ()


_MISSING = _Missing()


class _Issues:
    """The problems found so far. Each reader returns what it read, or a stand-in after
    reporting a problem: any problem raises before a stand-in can leave :func:`parse_action`."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.fields.setdefault(key, []).append(message)

    def string(self, key: str, value: JsonValue | _Missing, *, min_len: int = 0) -> str:
        if not isinstance(value, str):
            got = "undefined" if isinstance(value, _Missing) else _type_name(value)
            self.add(key, f"Invalid input: expected string, received {got}")
            return ""
        if len(value) < min_len:
            self.add(key, f"Too small: expected string to have >={min_len} characters")
        return value

    def uuid(self, key: str, value: JsonValue | _Missing) -> str:
        text = self.string(key, value)
        if isinstance(value, str) and not UUID_RE.fullmatch(value):
            self.add(key, "Invalid UUID")
        return text

    def object(self, key: str, value: JsonValue | _Missing) -> JsonObject | None:
        if not isinstance(value, dict):
            got = "undefined" if isinstance(value, _Missing) else _type_name(value)
            self.add(key, f"Invalid input: expected object, received {got}")
            return None
        return value


def parse_action(raw: object) -> ActionDoc:
    """Validate and strip an ActionRequest (as parsed from JSON, or any value at all); raise
    ``INVALID_ACTION_REQUEST`` with details."""
    if not isinstance(raw, dict):
        raise _not_an_object(raw)
    request: JsonObject = raw  # parsed JSON: its keys are strings
    issues = _Issues()
    action_id = issues.uuid("action_id", request.get("action_id", _MISSING))
    action_type = issues.string("action_type", request.get("action_type", _MISSING), min_len=1)
    requested_at = issues.string("requested_at", request.get("requested_at", _MISSING))
    principal, subject = _principal(request, issues), _subject(request, issues)
    relying_party = None
    if "relying_party" in request:
        relying_party = _relying_party(request["relying_party"], issues)
    payload = issues.object("payload", request.get("payload", _MISSING))
    if issues.fields or payload is None:
        first_key, msgs = next(iter(issues.fields.items()))
        raise InvalidInputError(
            "INVALID_ACTION_REQUEST",
            f"Invalid action request: {first_key}: {msgs[0]}",
            {"formErrors": [], "fieldErrors": issues.fields},
        )
    out: ActionDoc = {
        "action_id": action_id,
        "action_type": action_type,
        "requested_at": requested_at,
        "principal": principal,
        "subject": subject,
        "relying_party": relying_party or {},  # before the payload, as the request has it
        "payload": payload,
    }
    if relying_party is None:
        del out["relying_party"]
    return out


def _not_an_object(raw: object) -> InvalidInputError:
    return InvalidInputError(
        "INVALID_ACTION_REQUEST",
        f"Invalid action request: expected object, received {_type_name(raw)}",
        {
            "formErrors": [f"Invalid input: expected object, received {_type_name(raw)}"],
            "fieldErrors": {},
        },
    )


def _principal(raw: JsonObject, issues: _Issues) -> ActionPrincipal:
    """The principal: the agent."""
    principal = issues.object("principal", raw.get("principal", _MISSING))
    if principal is None:
        return {"agent_id": ""}
    agent_id = issues.string("principal", principal.get("agent_id", _MISSING), min_len=1)
    return {"agent_id": agent_id}


def _subject(raw: JsonObject, issues: _Issues) -> ActionSubject:
    """The subject: whom the agent acts for."""
    subject = issues.object("subject", raw.get("subject", _MISSING))
    if subject is None:
        return {"principal_id": ""}
    return {"principal_id": issues.uuid("subject", subject.get("principal_id", _MISSING))}


def _relying_party(value: JsonValue, issues: _Issues) -> ActionRelyingParty:
    rp = issues.object("relying_party", value)
    out: ActionRelyingParty = {}
    if rp is None:
        return out
    if "rp_id" in rp:
        out["rp_id"] = issues.uuid("relying_party", rp["rp_id"])
    if "domain" in rp:
        out["domain"] = issues.string("relying_party", rp["domain"])
    if "trust_profile" in rp:
        profile = rp["trust_profile"]
        if not isinstance(profile, str) or profile not in TRUST_PROFILES:
            issues.add(
                "relying_party",
                'Invalid option: expected one of "LOW"|"MEDIUM"|"HIGH"|"REGULATED"',
            )
        out["trust_profile"] = profile if isinstance(profile, str) else ""
    return out
