"""What a decision reports beside its result, as data: a trace entry for every rule, what each
limit counted, the limits an allow was granted under, and why a decision is not ALLOW.

The shapes are ours: the playground, ``openleash policy test``, the audit log and the decision
body render them as they are, keys in the order written here.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from openleash.policy.model import LimitKind, LimitPer


class LimitReport(TypedDict):
    """What one limit of a rule counted, and whether it holds counting this action."""

    kind: LimitKind
    #: ``None`` when the usage is not known (the limit does not hold).
    used: int | float | None
    #: ``None`` for a spend limit when the action has no usable amount (it does not hold).
    this: int | float | None
    max: int | float
    window: str
    per: LimitPer
    #: The action's value of each ``by`` field; ``None`` when it has no one spelling.
    by: dict[str, str | None]
    holds: bool


class TraceEntry(TypedDict):
    """How far one rule got. ``None`` for a step not taken because an earlier one failed."""

    rule_id: str
    pattern_match: bool
    when_match: bool | None
    constraints_match: bool | None
    #: Only when some rule of the policy has a schedule or limits (then in every entry).
    schedule_match: NotRequired[bool | None]
    limits_match: NotRequired[bool | None]
    #: Only once the rule's limits were checked.
    limits: NotRequired[list[LimitReport]]
    final_match: bool


class GrantedLimit(TypedDict):
    """A limit of the rule that allowed, with what remains (``max - used - this``)."""

    kind: LimitKind
    max: int | float
    used: int | float
    this: int | float
    remaining: int | float
    window: str
    per: LimitPer
    by: dict[str, str | None]


class OtherFailure(TypedDict):
    """Why a further allowing rule did not hold (see :class:`ExplanationDetails`)."""

    rule: str
    failed: str
    condition: str


class ExplanationDetails(TypedDict):
    """Why a decision is not ALLOW, as data.

    ``decided_by`` is the rule that decided (``None`` for the default); ``nearest_allow_rule``
    the first allowing rule that did not decide; ``failed`` what kept it from holding
    (``when``, ``constraints``, ``schedule``, ``limits``, ``order``, or ``input`` when the
    action could not be judged) and ``condition`` the condition, in words. When no explanation
    could be made there are only ``decided_by`` and ``error``.
    """

    decided_by: str | None
    nearest_allow_rule: NotRequired[str | None]
    failed: NotRequired[str | None]
    condition: NotRequired[str | None]
    #: Up to two more allowing rules that did not hold.
    also: NotRequired[list[OtherFailure]]
    error: NotRequired[str]
