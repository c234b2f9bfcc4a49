"""Counterparties: who an action deals with, and how much the owner trusts them.

The counterparty is ``payload.merchant_domain``, else ``payload.domain``, else
``relying_party.domain`` (the first that is a non-empty string), in its one spelling (trimmed,
lower-cased, without trailing dots; see :mod:`.keys`). Its trust comes
from the effective policy's ``counterparties``: an exact domain first, then the longest
``*.suffix`` pattern that covers it; on a tie the entry of the more specific layer (earlier
in the merged list) wins. Anything listed nowhere, and anything that is not a well-formed host
name (a port, an empty label, a character outside ASCII), is ``UNKNOWN``. What an agent writes in
``relying_party.trust_profile`` is never read here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from openleash.domain.jsonvalue import JsonValue
from openleash.policy.checker import Checker, optional, shown
from openleash.policy.keys import domain_text, is_host_name
from openleash.policy.model import TRUST_LEVELS, Counterparty, Policy
from openleash.policy.syntax import Path

COUNTERPARTY_KEYS = ("domain", "trust")
UNKNOWN = "UNKNOWN"

# Written in either case; spelled out rather than IGNORECASE, which would also admit
# look-alikes such as the Kelvin sign for `k`.
_ANY_CASE_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PATTERN = re.compile(rf"(?:\*\.)?{_ANY_CASE_LABEL}(?:\.{_ANY_CASE_LABEL})*")


def counterparty_of(action: Mapping[str, object]) -> str | None:
    """The counterparty's domain in its one spelling, or ``None`` when the action names none.

    It may still not be a well-formed host name (see :func:`counterparty_host`)."""
    payload = action.get("payload")
    if isinstance(payload, dict):
        for key in ("merchant_domain", "domain"):
            found = _written(payload.get(key))
            if found is not None:
                return found
    relying_party = action.get("relying_party")
    if isinstance(relying_party, dict):
        return _written(relying_party.get("domain"))
    return None


def counterparty_host(action: Mapping[str, object]) -> str | None:
    """The counterparty when it is a well-formed host name, else ``None``."""
    domain = counterparty_of(action)
    return domain if domain is not None and is_host_name(domain) else None


def _written(value: object) -> str | None:
    if type(value) is not str:
        return None
    text = domain_text(value)
    return text or None


def trust_of(policy: Policy, domain: str | None) -> str:
    """The owner's trust in ``domain`` under ``policy`` (one of :data:`TRUST_LEVELS`)."""
    if domain is None or not policy.counterparties:
        return UNKNOWN
    host = domain_text(domain)
    if not is_host_name(host):
        return UNKNOWN
    exact, suffixes = policy.trust_index
    found = exact.get(host)
    if found is not None:
        return found
    # Left to right: the longest proper suffix first.
    dot = host.find(".")
    while dot != -1:
        found = suffixes.get(host[dot + 1 :])
        if found is not None:
            return found
        dot = host.find(".", dot + 1)
    return UNKNOWN


def parse_counterparties(
    c: Checker, data: JsonValue, path: Path
) -> tuple[Counterparty, ...] | None:
    items = c.items(data, path)
    if items is None:
        return None
    built = [_counterparty(c, item, (*path, i)) for i, item in enumerate(items)]
    first_at: dict[str, int] = {}
    for i, entry in enumerate(built):
        if entry is None:
            continue
        first = first_at.setdefault(entry.domain, i)
        if first != i:
            c.fail((*path, i, "domain"), f"duplicate domain `{entry.domain}` (also [{first}])")
            built[i] = None
    return tuple(e for e in built if e is not None) if None not in built else None


def _counterparty(c: Checker, data: JsonValue, path: Path) -> Counterparty | None:
    before = c.count()
    node = c.mapping(data, path, keys=COUNTERPARTY_KEYS, required=COUNTERPARTY_KEYS)
    if node is None:
        return None
    domain = optional(c, node, path, "domain", _domain)
    trust = optional(c, node, path, "trust", parse_trust)
    if c.count() != before or domain is None or trust is None:
        return None
    return Counterparty(domain, trust)


def _domain(c: Checker, data: JsonValue, path: Path) -> str | None:
    text = c.string(data, path)
    if text is None:
        return None
    if _PATTERN.fullmatch(text) is None:
        c.fail(
            path,
            f"must be a domain such as `shop.example` or a pattern such as `*.gov`, not "
            f"{shown(text)}",
        )
        return None
    return text.lower()


def parse_trust(c: Checker, data: JsonValue, path: Path) -> str | None:
    return c.choice(data, path, TRUST_LEVELS)
