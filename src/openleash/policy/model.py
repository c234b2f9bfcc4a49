"""The typed, frozen form of a policy, as the parser builds it and the evaluator reads it.

Every optional part is ``None`` when the policy leaves it out, so that "absent" and "empty"
stay distinct, as they are in the policy language. :meth:`Policy.canonical_data` turns a policy
back into plain data in a fixed key order, the basis for hashing the policy that decided.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields
from typing import Any

import regress

from openleash.policy.paths import UNDEFINED, JsonPath


class Effect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class DefaultEffect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    PASSTHROUGH = "passthrough"
    REQUIRE_APPROVAL = "require_approval"


class Op(enum.StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NIN = "nin"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    REGEX = "regex"
    EXISTS = "exists"


#: Assurance levels in increasing strength.
ASSURANCE_LEVELS: tuple[str, ...] = ("LOW", "SUBSTANTIAL", "HIGH")


@dataclass(frozen=True, slots=True)
class ActionPattern:
    """``*``, a ``prefix.*`` family, or one exact action type."""

    text: str
    #: For ``x.*`` patterns the ``x``; ``None`` for ``*`` and for exact patterns.
    prefix: str | None
    any: bool


def compile_action_pattern(text: str) -> ActionPattern:
    if text == "*":
        return ActionPattern(text, None, True)
    if text.endswith(".*"):
        return ActionPattern(text, text[:-2], False)
    return ActionPattern(text, None, False)


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


@dataclass(frozen=True, slots=True)
class Match:
    path: JsonPath
    op: Op
    #: The ``value`` key, or :data:`UNDEFINED` when the policy leaves it out.
    value: Any
    #: For ``regex`` with a string value: the compiled pattern, ``None`` if it does not compile.
    regex: regress.Regex | None = field(default=None, compare=False)


Expr = AllOf | AnyOf | Not | Match


@dataclass(frozen=True, slots=True)
class Constraints:
    amount_max: int | float | None = None
    amount_min: int | float | None = None
    currency: tuple[str, ...] | None = None
    merchant_domain: tuple[str, ...] | None = None
    allowed_domains: tuple[str, ...] | None = None
    blocked_domains: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Requirements:
    min_assurance_level: str | None = None
    credential_scheme: str | None = None


@dataclass(frozen=True, slots=True)
class Obligation:
    type: str
    #: ``params`` as written; the obligation's ``details_json`` is a copy (``{}`` if absent).
    params: dict[str, Any] | None = None
    #: Any other keys, which the language allows and ignores.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Proof:
    required: bool | None = None
    ttl_seconds: int | float | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    effect: Effect
    action: ActionPattern
    description: str | None = None
    when: Expr | None = None
    constraints: Constraints | None = None
    requirements: Requirements | None = None
    obligations: tuple[Obligation, ...] | None = None
    proof: Proof | None = None

    def canonical_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "effect": str(self.effect),
            "action": self.action.text,
        }
        _put(out, "description", self.description)
        if self.when is not None:
            out["when"] = expr_data(self.when)
        if self.constraints is not None:
            out["constraints"] = _fields(self.constraints)
        if self.requirements is not None:
            out["requirements"] = _fields(self.requirements)
        if self.obligations is not None:
            out["obligations"] = [_obligation_data(o) for o in self.obligations]
        if self.proof is not None:
            out["proof"] = _fields(self.proof)
        return out


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    default: DefaultEffect
    rules: tuple[Rule, ...]
    #: Located notes about things that are valid but probably not meant (never compared).
    warnings: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    def canonical_data(self) -> dict[str, Any]:
        """Plain data in a fixed key order: equal for policies that decide alike as written."""
        return {
            "version": self.version,
            "default": str(self.default),
            "rules": [rule.canonical_data() for rule in self.rules],
        }


def expr_data(expr: Expr) -> dict[str, Any]:
    match expr:
        case AllOf(items):
            return {"all": [expr_data(item) for item in items]}
        case AnyOf(items):
            return {"any": [expr_data(item) for item in items]}
        case Not(item):
            return {"not": expr_data(item)}
        case Match(path, op, value):
            out: dict[str, Any] = {"path": path.text, "op": str(op)}
            if value is not UNDEFINED:
                out["value"] = json_data(value)
            return {"match": out}


def json_data(value: Any) -> Any:
    """A detached copy of JSON-like data; non-finite numbers become ``None`` as in JSON text."""
    if isinstance(value, dict):
        return {key: json_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_data(item) for item in value]
    if type(value) is float and not math.isfinite(value):
        return None
    return value


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = json_data(value)


def _fields(record: Constraints | Requirements | Proof) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in fields(record):
        _put(out, spec.name, getattr(record, spec.name))
    return out


def _obligation_data(obligation: Obligation) -> dict[str, Any]:
    out: dict[str, Any] = {"type": obligation.type}
    _put(out, "params", obligation.params)
    for key, value in obligation.extra.items():
        out[key] = json_data(value)
    return out
