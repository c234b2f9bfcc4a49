"""What the portal's pages show, shaped from the services' views: amounts in their currency,
an action's fields, the owner's trust in a counterparty, a policy with its failing lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from openleash.api.views.approvals import OwnerApprovalJson
from openleash.bootstrap import Services
from openleash.domain.errors import OpenLeashError
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.policy import counterparty_of
from openleash.service.owner_auth import OwnerCall

#: Digits after the decimal point where a currency's minor unit is not a hundredth (ISO 4217).
_MINOR_DIGITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

#: Fields shown on their own line of an approval; the rest of the payload is listed below them.
_HEADLINE_FIELDS = ("amount_minor", "currency", "merchant_domain", "domain")


def format_amount(amount_minor: JsonValue, currency: JsonValue) -> str | None:
    """``amount_minor`` 123456 ``USD`` as ``1,234.56 USD``; None when there is no amount."""
    if type(amount_minor) is not int:
        return None
    code = currency.upper() if isinstance(currency, str) else ""
    digits = _MINOR_DIGITS.get(code, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(amount_minor), 10**digits)
    text = f"{sign}{whole:,}" + (f".{part:0{digits}d}" if digits else "")
    return f"{text} {code}".strip()


def shown(value: JsonValue) -> str:
    """A JSON value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def payload_rows(action: Mapping[str, object]) -> list[tuple[str, str]]:
    payload = action.get("payload")
    if not isinstance(payload, dict):
        return []
    return [(key, shown(value)) for key, value in payload.items() if key not in _HEADLINE_FIELDS]


def object_rows(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return []
    return [(key, shown(item)) for key, item in value.items()]


@dataclass(frozen=True, slots=True)
class Counterparty:
    """Whom the action deals with and how much the owner trusts them: ``trust`` is what the
    agent's current effective policy says (None when it cannot be told)."""

    domain: str | None
    trust: str | None
    claimed_trust: str | None


async def counterparty(services: Services, view: OwnerApprovalJson) -> Counterparty:
    action = view["action"]
    domain = counterparty_of(action)
    relying_party = action.get("relying_party")
    claimed = relying_party.get("trust_profile") if isinstance(relying_party, dict) else None
    trust = await services.approvals.counterparty_trust(
        view["agent_id"], view["agent_principal_id"], domain
    )
    return Counterparty(domain, trust, claimed if isinstance(claimed, str) else None)


@dataclass(slots=True)
class YamlLine:
    number: int
    text: str
    issues: list[JsonObject] = field(default_factory=list)


@dataclass(slots=True)
class YamlReport:
    """A policy's text line by line, each with the validation issues located on it."""

    lines: list[YamlLine]
    #: Issues with no line, or a line past the end of the text.
    unplaced: list[JsonObject]
    issues: list[JsonObject]


def yaml_report(policy_yaml: str, issues: list[JsonObject]) -> YamlReport:
    lines = [YamlLine(i, text) for i, text in enumerate(policy_yaml.split("\n"), start=1)]
    if lines and lines[-1].text == "" and len(lines) > 1:
        lines.pop()
    unplaced: list[JsonObject] = []
    for issue in issues:
        line = issue.get("line")
        if type(line) is int and 1 <= line <= len(lines):
            lines[line - 1].issues.append(issue)
        else:
            unplaced.append(issue)
    return YamlReport(lines, unplaced, issues)


def policy_issues(error: OpenLeashError) -> list[JsonObject]:
    """The located issues of an ``INVALID_POLICY`` error (none for other errors)."""
    details = error.details or {}
    found = details.get("issues") if error.code == "INVALID_POLICY" else None
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


async def totp_enabled(services: Services, call: OwnerCall) -> bool:
    """Whether the owner has TOTP on: the forms then ask for a code."""
    return (await services.accounts.profile(call)).totp_enabled


async def agent_names(services: Services, call: OwnerCall) -> dict[str, str]:
    """Agent principal id -> agent id, for the owner's agents."""
    agents = await services.registration.agents(call.owner_id)
    return {a.agent_principal_id: a.agent_id for a in agents}
