"""The ActionRequest: validated and stripped exactly as the TypeScript server does (inv §4.1).

Unknown keys are removed at the top level and inside ``principal``, ``subject`` and
``relying_party``; ``payload`` is kept verbatim. The action hash is computed over the result,
so stripping must match or hashes differ.
"""

from __future__ import annotations

import re
from typing import Any

from openleash.domain.errors import InvalidInputError

# Fix (PROTOCOL §3.6): any 8-4-4-4-12 hex UUID, not only RFC 9562 versions.
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
TRUST_PROFILES = ("LOW", "MEDIUM", "HIGH", "REGULATED")

_TYPE_NAMES = {str: "string", dict: "object", list: "array", bool: "boolean"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class _Issues:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.fields.setdefault(key, []).append(message)

    def expect_string(self, key: str, value: Any, *, missing: bool, min_len: int = 0) -> None:
        if missing or not isinstance(value, str):
            got = "undefined" if missing else _type_name(value)
            self.add(key, f"Invalid input: expected string, received {got}")
        elif len(value) < min_len:
            self.add(key, f"Too small: expected string to have >={min_len} characters")

    def expect_uuid(self, key: str, value: Any, *, missing: bool) -> None:
        self.expect_string(key, value, missing=missing)
        if isinstance(value, str) and not UUID_RE.fullmatch(value):
            self.add(key, "Invalid UUID")

    def expect_object(self, key: str, value: Any, *, missing: bool) -> bool:
        if missing or not isinstance(value, dict):
            got = "undefined" if missing else _type_name(value)
            self.add(key, f"Invalid input: expected object, received {got}")
            return False
        return True


_MISSING = object()


def parse_action(raw: Any) -> dict[str, Any]:
    """Validate and strip an ActionRequest; raise ``INVALID_ACTION_REQUEST`` with details."""
    if not isinstance(raw, dict):
        raise _not_an_object(raw)
    issues = _Issues()
    out: dict[str, Any] = {}
    action_id = raw.get("action_id", _MISSING)
    issues.expect_uuid("action_id", action_id, missing=action_id is _MISSING)
    out["action_id"] = action_id
    action_type = raw.get("action_type", _MISSING)
    issues.expect_string("action_type", action_type, missing=action_type is _MISSING, min_len=1)
    out["action_type"] = action_type
    requested_at = raw.get("requested_at", _MISSING)
    issues.expect_string("requested_at", requested_at, missing=requested_at is _MISSING)
    out["requested_at"] = requested_at
    _parties(raw, issues, out)
    payload = raw.get("payload", _MISSING)
    if issues.expect_object("payload", payload, missing=payload is _MISSING):
        out["payload"] = payload
    if issues.fields:
        first_key, msgs = next(iter(issues.fields.items()))
        raise InvalidInputError(
            "INVALID_ACTION_REQUEST",
            f"Invalid action request: {first_key}: {msgs[0]}",
            {"formErrors": [], "fieldErrors": issues.fields},
        )
    return out


def _not_an_object(raw: Any) -> InvalidInputError:
    return InvalidInputError(
        "INVALID_ACTION_REQUEST",
        f"Invalid action request: expected object, received {_type_name(raw)}",
        {
            "formErrors": [f"Invalid input: expected object, received {_type_name(raw)}"],
            "fieldErrors": {},
        },
    )


def _parties(raw: dict[str, Any], issues: _Issues, out: dict[str, Any]) -> None:
    """The principal (the agent), the subject (whom it acts for) and the relying party."""
    principal = raw.get("principal", _MISSING)
    if issues.expect_object("principal", principal, missing=principal is _MISSING):
        agent_id = principal.get("agent_id", _MISSING)
        issues.expect_string("principal", agent_id, missing=agent_id is _MISSING, min_len=1)
        out["principal"] = {"agent_id": agent_id}
    subject = raw.get("subject", _MISSING)
    if issues.expect_object("subject", subject, missing=subject is _MISSING):
        pid = subject.get("principal_id", _MISSING)
        issues.expect_uuid("subject", pid, missing=pid is _MISSING)
        out["subject"] = {"principal_id": pid}
    if "relying_party" in raw:
        out["relying_party"] = _relying_party(raw["relying_party"], issues)


def _relying_party(rp: Any, issues: _Issues) -> dict[str, Any]:
    if not issues.expect_object("relying_party", rp, missing=False):
        return {}
    out: dict[str, Any] = {}
    if "rp_id" in rp:
        issues.expect_uuid("relying_party", rp["rp_id"], missing=False)
        out["rp_id"] = rp["rp_id"]
    if "domain" in rp:
        issues.expect_string("relying_party", rp["domain"], missing=False)
        out["domain"] = rp["domain"]
    if "trust_profile" in rp:
        if rp["trust_profile"] not in TRUST_PROFILES:
            issues.add(
                "relying_party",
                'Invalid option: expected one of "LOW"|"MEDIUM"|"HIGH"|"REGULATED"',
            )
        out["trust_profile"] = rp["trust_profile"]
    return out
