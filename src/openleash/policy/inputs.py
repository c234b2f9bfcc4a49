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

from collections.abc import Mapping

from openleash.policy.constraints import field_of, is_usable_amount
from openleash.policy.keys import action_type_key, currency_code
from openleash.policy.model import Policy
from openleash.policy.paths import UNDEFINED
from openleash.policy.trust import counterparty_host

_AMOUNT = (
    "payload.amount_minor must be a finite number of minor units, from 0 to 2**53"
    " (9007199254740992)"
)
_CURRENCY = "payload.currency must be a three-letter ISO 4217 code such as USD"
_COUNTERPARTY = (
    "the counterparty (payload.merchant_domain, payload.domain or relying_party.domain)"
    " must be a host name such as shop.example"
)
_ACTION_TYPE = "action_type must be written in lower case without surrounding spaces"


def unusable_input(policy: Policy, action: Mapping[str, object]) -> str | None:
    """Why the action cannot be judged under ``policy``, or ``None`` when it can."""
    if not policy.input_needs:
        return None
    action_type = action.get("action_type")
    for rule, needs in policy.input_needs:
        if rule.action.matches(action_type):
            problem = _problem(needs, action)
            if problem is not None:
                return f'{problem} (rule "{rule.id}" depends on it); denied'
    return None


def _problem(needs: frozenset[str], action: Mapping[str, object]) -> str | None:
    payload = action.get("payload")
    amount = _written(payload, "amount_minor")
    if "amount" in needs and amount is not UNDEFINED and not is_usable_amount(amount):
        return _AMOUNT
    currency = _written(payload, "currency")
    if currency_code(currency) is None and (
        "by:currency" in needs or ("currency" in needs and currency is not UNDEFINED)
    ):
        return _CURRENCY
    if "by:counterparty" in needs and counterparty_host(action) is None:
        return _COUNTERPARTY
    if "by:action_type" in needs and action_type_key(action.get("action_type")) is None:
        return _ACTION_TYPE
    return None


def _written(payload: object, key: str) -> object:
    value = field_of(payload, key)
    return UNDEFINED if value is None else value
