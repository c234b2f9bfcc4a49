"""Agent values a policy cannot judge: refused for the whole decision, before any rule.

A rule that limits amounts, or counts a budget by currency or counterparty, relies on values
the agent writes. When such a value cannot be used (a negative or infinite amount, ``"US
dollars"`` for a currency, no currency at all under ``by: [currency]``) it is not enough that
this one rule does not match: a later rule could then allow what the limit was written to
stop. So the decision is DENY, with the reason, whenever some rule for the action's type
depends on a value that cannot be used.

A value that is simply absent keeps its v1 meaning (the constraint does not hold), except
where a limit groups by it: there an absent value would be one more budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openleash.policy.constraints import field_of, is_usable_amount
from openleash.policy.keys import action_type_key, currency_code
from openleash.policy.model import Rule
from openleash.policy.paths import UNDEFINED
from openleash.policy.trust import counterparty_host


def unusable_input(rules: tuple[Rule, ...], action: Mapping[str, Any]) -> str | None:
    """Why the action cannot be judged under ``rules``, or ``None`` when it can."""
    action_type = action.get("action_type")
    payload = action.get("payload")
    for rule in rules:
        if not rule.action.matches(action_type):
            continue
        for check in _CHECKS:
            problem = check(rule, action, payload)
            if problem is not None:
                return f'{problem} (rule "{rule.id}" depends on it); denied'
    return None


def _written(payload: Any, key: str) -> Any:
    value = field_of(payload, key)
    return UNDEFINED if value is None else value


def _amount(rule: Rule, action: Mapping[str, Any], payload: Any) -> str | None:
    c = rule.constraints
    limited = c is not None and (c.amount_min is not None or c.amount_max is not None)
    spends = any(limit.kind == "spend" for limit in rule.limits or ())
    amount = _written(payload, "amount_minor")
    if (limited or spends) and amount is not UNDEFINED and not is_usable_amount(amount):
        return "payload.amount_minor must be a finite number of minor units, 0 or more"
    return None


def _currency(rule: Rule, action: Mapping[str, Any], payload: Any) -> str | None:
    written = _written(payload, "currency")
    if currency_code(written) is not None:
        return None
    grouped = _grouped_by(rule, "currency")
    listed = rule.constraints is not None and rule.constraints.currency is not None
    if grouped or (listed and written is not UNDEFINED):
        return "payload.currency must be a three-letter ISO 4217 code such as USD"
    return None


def _counterparty(rule: Rule, action: Mapping[str, Any], payload: Any) -> str | None:
    if _grouped_by(rule, "counterparty") and counterparty_host(action) is None:
        return (
            "the counterparty (payload.merchant_domain, payload.domain or"
            " relying_party.domain) must be a host name such as shop.example"
        )
    return None


def _action_type(rule: Rule, action: Mapping[str, Any], payload: Any) -> str | None:
    if _grouped_by(rule, "action_type") and action_type_key(action.get("action_type")) is None:
        return "action_type must be written in lower case without surrounding spaces"
    return None


def _grouped_by(rule: Rule, name: str) -> bool:
    return any(name in limit.by for limit in rule.limits or ())


_CHECKS: tuple[Callable[[Rule, Mapping[str, Any], Any], str | None], ...] = (
    _amount,
    _currency,
    _counterparty,
    _action_type,
)
