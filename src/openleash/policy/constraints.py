"""``constraints``: the fixed checks of a rule on the payload and on what the server knows.

Each check is a small predicate, shared by :func:`constraints_hold` (the decision) and the
explanation of a decision (:mod:`openleash.policy.explain`), so that the two cannot disagree.

Two deliberate departures from v1, where an agent's spelling could get around an owner's
intent: currencies and domains are compared in their one spelling (:mod:`.keys`: ``usd`` is
``USD``, ``Shop.Example.`` is ``shop.example``), and an amount must be a finite number, 0 or
more, to satisfy ``amount_min`` or ``amount_max`` (a negative amount is not "under the maximum").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeGuard

from openleash.policy.keys import currency_code, domain_text
from openleash.policy.model import RISK_RANK, Constraints
from openleash.policy.paths import UNDEFINED, is_js_number
from openleash.policy.risk import LOWEST
from openleash.policy.trust import UNKNOWN, counterparty_of


def constraints_hold(
    constraints: Constraints,
    action: Mapping[str, object],
    *,
    risk: str = LOWEST,
    trust: str = UNKNOWN,
) -> bool:
    c, payload = constraints, action.get("payload")
    # Each value is read only when a constraint asks for it: this runs on every request.
    return (
        amount_ok(c, payload)
        and (
            c.currency is None or in_list(c.currency, currency_code(field_of(payload, "currency")))
        )
        and (
            c.merchant_domain is None
            or all(
                in_list(c.merchant_domain, d)
                for d in judged_domains(payload, action, "merchant_domain")
            )
        )
        and _domain_ok(c, payload, action)
        and trust_ok(c, trust)
        and risk_ok(c, risk)
    )


def _currency(payload: object) -> str | None:
    return currency_code(field_of(payload, "currency"))


def _domain_ok(c: Constraints, payload: object, action: Mapping[str, object]) -> bool:
    if c.allowed_domains is None and c.blocked_domains is None:
        return True
    return all(
        in_list(c.allowed_domains, domain) and not_blocked(c.blocked_domains, domain)
        for domain in judged_domains(payload, action, "domain")
    )


def amount_ok(constraints: Constraints, payload: object) -> bool:
    low, high = constraints.amount_min, constraints.amount_max
    if low is None and high is None:
        return True
    amount = field_of(payload, "amount_minor")
    if not is_usable_amount(amount):
        return False
    return (low is None or amount >= low) and (high is None or amount <= high)


#: The largest usable amount: 2**53, beyond which a double no longer holds every integer.
#: Budgets keep running totals as doubles; one huge allowed amount (from a rule with no amount
#: check) would leave later small amounts rounded away in them, so a spend limit counted nothing.
MAX_AMOUNT = 2**53


def is_usable_amount(amount: object) -> TypeGuard[int | float]:
    """A number of minor units: finite, 0 or more (a refund is not a smaller purchase) and at
    most :data:`MAX_AMOUNT`."""
    return is_js_number(amount) and math.isfinite(amount) and 0 <= amount <= MAX_AMOUNT


def in_list(allowed: tuple[str, ...] | None, value: object) -> bool:
    return allowed is None or (type(value) is str and value in allowed)


def not_blocked(blocked: tuple[str, ...] | None, value: object) -> bool:
    return blocked is None or not (type(value) is str and value in blocked)


def trust_ok(constraints: Constraints, trust: str) -> bool:
    return constraints.counterparty_trust is None or trust in constraints.counterparty_trust


def risk_ok(constraints: Constraints, risk: str) -> bool:
    return constraints.max_risk is None or RISK_RANK[risk] <= RISK_RANK[constraints.max_risk]


def field_of(container: object, key: str) -> object:
    return container.get(key, UNDEFINED) if isinstance(container, dict) else UNDEFINED


def judged_domains(payload: object, action: Mapping[str, object], key: str) -> tuple[object, ...]:
    """What a domain list judges: the v1 value (:func:`domain_of`) and the counterparty.

    The counterparty (``merchant_domain``, else ``domain``, else ``relying_party.domain``) is
    the service a proof names and is accepted by. It may differ from the v1 value, e.g. a
    ``merchant_domain`` beside an innocent ``domain``, or a blank or non-string ``domain`` in
    front of ``relying_party.domain``; if only the v1 value were judged, a blocked service, or
    one outside an allow list, would get a proof it accepts."""
    value = domain_of(payload, action, key)
    counterparty = counterparty_of(action)
    if counterparty is None or counterparty == value:
        return (value,)
    return (value, counterparty)


def domain_of(payload: object, action: Mapping[str, object], key: str) -> object:
    """``payload[key] ?? relying_party.domain``: only null and missing fall back; a string in
    its one spelling."""
    value = field_of(payload, key)
    if value is None or value is UNDEFINED:
        value = field_of(action.get("relying_party"), "domain")
    return domain_text(value) if type(value) is str else value
