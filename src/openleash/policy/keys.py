"""The one spelling of each value an agent writes that budgets are grouped or matched by.

An agent chooses how it spells its action. If ``usd``, ``USD`` and ``" USD "`` were three
currencies, or ``shop.example`` and ``Shop.Example.`` two counterparties, every spelling would
open a fresh budget under ``by: [currency]`` or ``by: [counterparty]``. So each value is
brought to one form here, and a value that has none is reported (``None``), for the evaluator
to refuse wherever a limit or a constraint depends on it.
"""

from __future__ import annotations

import re
from typing import Final

#: An ISO 4217 alphabetic code.
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def currency_code(value: object) -> str | None:
    """``value`` as an ISO 4217 code (trimmed, upper-case, three letters A-Z), else ``None``."""
    if type(value) is not str:
        return None
    if _CURRENCY.fullmatch(value):
        return value  # already in its one spelling: the common case
    text = value.strip()
    # ASCII first: `str.upper` would turn look-alikes such as the long s (ſ) into `S`.
    if not text.isascii():
        return None
    code = text.upper()
    return code if _CURRENCY.fullmatch(code) else None


def domain_text(value: str) -> str:
    """A domain as written, in its one spelling: trimmed, lower-case, without trailing dots."""
    return value.strip().lower().rstrip(".")


def host_name(value: object) -> str | None:
    """``value`` as a well-formed host name in its one spelling, else ``None``."""
    if type(value) is not str:
        return None
    text = domain_text(value)
    return text if text.isascii() and _HOST.fullmatch(text) else None


def is_host_name(text: str) -> bool:
    """Whether ``text`` (already in its one spelling) is a well-formed host name."""
    return text.isascii() and _HOST.fullmatch(text) is not None


def action_type_key(value: object) -> str | None:
    """``value`` when it is already in the one spelling limits count by (non-empty, lower-case,
    no surrounding space), else ``None``. Action types are matched case-sensitively, so they
    are not rewritten: a spelling other than this one is refused where limits count by it."""
    if type(value) is not str or not value or value != value.strip().lower():
        return None
    return value
