"""What the MCP gateway reads: how each tool call becomes an OpenLeash action.

The configuration is a mapping (the CLI reads it from a YAML or JSON file)::

    server: shop                      # default action types are mcp.<server>.<tool>
    approval:
      wait_seconds: 30                # how long a call waits for the owner's approval
      poll_seconds: 1
    upstream_timeout_seconds: 120     # how long a forwarded request may take
    tools:
      buy:
        action_type: purchase         # instead of mcp.shop.buy
        amount: amount_cents          # argument -> payload.amount_minor (minor units)
        currency: currency            # argument -> payload.currency
        default_currency: USD         # when the call gives no currency argument
        counterparty: vendor          # argument naming the counterparty's domain ...
        counterparty_field: relying_party.domain   # ... written here (or payload.merchant_domain)
        justification: "Buying for the user"       # shown to the owner with an approval request

Every key is optional; a tool that is not listed is still authorized, as ``mcp.<server>.<tool>``
with its arguments as the payload.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from openleash.domain.errors import InvalidInputError, OpenLeashError

#: Where a counterparty argument goes: OpenLeash reads ``payload.merchant_domain``, then
#: ``payload.domain``, then ``relying_party.domain`` as an action's counterparty.
COUNTERPARTY_FIELDS = ("relying_party.domain", "payload.merchant_domain", "payload.domain")
DEFAULT_SERVER = "upstream"

_TOOL_KEYS = frozenset(
    {
        "action_type",
        "amount",
        "currency",
        "default_currency",
        "counterparty",
        "counterparty_field",
        "justification",
    }
)
_TOP_KEYS = frozenset({"server", "approval", "upstream_timeout_seconds", "tools"})
_APPROVAL_KEYS = frozenset({"wait_seconds", "poll_seconds"})


@dataclass(frozen=True, slots=True)
class ToolMapping:
    """How the arguments of one tool's calls fill the OpenLeash action."""

    action_type: str | None = None
    amount: str | None = None
    currency: str | None = None
    default_currency: str | None = None
    counterparty: str | None = None
    counterparty_field: str = COUNTERPARTY_FIELDS[0]
    justification: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    server: str | None = None
    tools: Mapping[str, ToolMapping] = field(default_factory=dict)
    approval_wait_seconds: float = 30.0
    approval_poll_seconds: float = 1.0
    upstream_timeout_seconds: float = 120.0

    def tool(self, name: str) -> ToolMapping:
        return self.tools.get(name) or ToolMapping()

    def action_type(self, server: str, tool: str) -> str:
        """The configured action type of ``tool``, else ``mcp.<server>.<tool>``."""
        return self.tool(tool).action_type or f"mcp.{server}.{tool}"


def server_name(advertised: str | None) -> str:
    """A name for action types from what an upstream calls itself: lower case, and only
    letters, digits, ``_`` and ``-`` (dots would read as more levels of the action type)."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", (advertised or "").lower()).strip("-")
    return cleaned or DEFAULT_SERVER


def gateway_config(data: object) -> GatewayConfig:
    """Check a configuration mapping (as parsed from YAML or JSON) and return it typed; errors
    name the key to fix."""
    if data is None:
        return GatewayConfig()
    top = _mapping(data, "the configuration", _TOP_KEYS)
    approval = _mapping(top.get("approval") or {}, "approval", _APPROVAL_KEYS)
    tools = _mapping(top.get("tools") or {}, "tools", None)
    return GatewayConfig(
        server=_optional_text(top, "server", "server"),
        tools={str(name): _tool(spec, f"tools.{name}") for name, spec in tools.items()},
        approval_wait_seconds=_seconds(approval, "wait_seconds", "approval", 30.0, zero=True),
        approval_poll_seconds=_seconds(approval, "poll_seconds", "approval", 1.0),
        upstream_timeout_seconds=_seconds(top, "upstream_timeout_seconds", None, 120.0),
    )


def _tool(spec: object, where: str) -> ToolMapping:
    values = _mapping(spec or {}, where, _TOOL_KEYS)
    target = values.get("counterparty_field", COUNTERPARTY_FIELDS[0])
    if target not in COUNTERPARTY_FIELDS:
        raise _error(f"{where}.counterparty_field must be one of {', '.join(COUNTERPARTY_FIELDS)}")
    texts = {key: _optional_text(values, key, f"{where}.{key}") for key in _TOOL_KEYS}
    return ToolMapping(
        action_type=texts["action_type"],
        amount=texts["amount"],
        currency=texts["currency"],
        default_currency=texts["default_currency"],
        counterparty=texts["counterparty"],
        counterparty_field=str(target),
        justification=texts["justification"],
    )


#: A mapping of the configuration as parsed: YAML keys need not be strings, nor values JSON.
_Parsed = Mapping[object, object]


def _mapping(value: object, where: str, allowed: frozenset[str] | None) -> _Parsed:
    if not isinstance(value, dict):
        raise _error(f"{where} must be a mapping")
    unknown = sorted(set(value) - allowed) if allowed is not None else []
    if unknown:
        raise _error(
            f"{where}: unknown key `{unknown[0]}` (known: {', '.join(sorted(allowed or ()))})"
        )
    return value


def _optional_text(values: _Parsed, key: str, where: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _error(f"{where} must be a non-empty string")
    return value


def _seconds(
    values: _Parsed, key: str, where: str | None, default: float, *, zero: bool = False
) -> float:
    value = values.get(key, default)
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if zero else value > 0)
    ):
        return float(value)
    name = f"{where}.{key}" if where else key
    raise _error(f"{name} must be a {'non-negative' if zero else 'positive'} number of seconds")


def _error(message: str) -> OpenLeashError:
    return InvalidInputError("VALIDATION_ERROR", f"MCP gateway configuration: {message}")
