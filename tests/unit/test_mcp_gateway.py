"""The MCP gateway without transports: its configuration, how a tool call becomes an OpenLeash
action, and that every way of not getting an ALLOW leaves the tool unrun."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import mcp_types as types
import pytest

from openleash.client import ApiError, ApprovalRequest, Decision, TransportError
from openleash.domain.action import parse_action
from openleash.domain.errors import OpenLeashError
from openleash.integrations.mcp_config import GatewayConfig, gateway_config, server_name
from openleash.integrations.mcp_gateway import Gateway, ToolResult

OWNER = "8d0e8f8e-3b5c-4f7e-9a55-7f2d6c1b9a10"
BUY_ARGS = {"item": "tea", "cents": 250, "cur": "USD", "vendor": "a.b"}


class FakeAgent:
    """The part of :class:`openleash.client.AsyncClient` the gateway uses, scripted."""

    agent_id = "agent-1"

    def __init__(self, *decisions: Any, statuses: tuple[dict[str, Any], ...] = ()) -> None:
        self.decisions = list(decisions)
        self.statuses = list(statuses)
        self.asked: list[dict[str, Any]] = []
        self.filed: list[tuple[str, str | None]] = []

    async def owner_id(self) -> str:
        return OWNER

    async def authorize(
        self, action: Mapping[str, Any], *, approval_token: str | None = None
    ) -> Decision:
        self.asked.append({**action, "approval_token": approval_token})
        answer = self.decisions.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Decision.from_wire(dict(answer))

    async def create_approval_request(
        self, decision_id: str, action: Mapping[str, Any], justification: str | None = None
    ) -> ApprovalRequest:
        self.filed.append((decision_id, justification))
        return ApprovalRequest.from_wire({"approval_request_id": "req-1", "status": "PENDING"})

    async def get_approval_request(self, approval_request_id: str) -> ApprovalRequest:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return ApprovalRequest.from_wire(status)


class Upstream:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, meta: dict[str, Any]) -> ToolResult:
        self.calls.append(meta)
        return types.CallToolResult(content=[types.TextContent(text="done")])


def _call(gateway: Gateway, tool: str, args: dict[str, Any], upstream: Upstream) -> ToolResult:
    async def call() -> ToolResult:
        return await gateway.call_tool(tool, args, upstream)

    return anyio.run(call)


def _text(result: ToolResult) -> str:
    assert isinstance(result, types.CallToolResult)
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


# -- configuration -------------------------------------------------------------------------------


def test_a_full_configuration_reads_back_typed() -> None:
    config = gateway_config(
        {
            "server": "shop",
            "approval": {"wait_seconds": 0, "poll_seconds": 0.5},
            "upstream_timeout_seconds": 30,
            "tools": {
                "buy": {
                    "action_type": "purchase",
                    "amount": "cents",
                    "currency": "cur",
                    "default_currency": "EUR",
                    "counterparty": "vendor",
                    "counterparty_field": "payload.domain",
                    "justification": "shopping",
                },
                "ping": None,
            },
        }
    )
    assert config.server == "shop"
    assert (config.approval_wait_seconds, config.approval_poll_seconds) == (0.0, 0.5)
    assert config.upstream_timeout_seconds == 30.0
    assert config.tool("buy").counterparty_field == "payload.domain"
    assert config.action_type("shop", "buy") == "purchase"
    assert config.action_type("shop", "ping") == "mcp.shop.ping"
    assert gateway_config(None) == GatewayConfig()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "the configuration must be a mapping"),
        ({"tool": {}}, "unknown key `tool`"),
        ({"tools": {"buy": {"amount_cents": "x"}}}, "tools.buy: unknown key `amount_cents`"),
        ({"tools": {"buy": {"amount": 5}}}, "tools.buy.amount must be a non-empty string"),
        ({"tools": {"buy": {"counterparty_field": "x"}}}, "counterparty_field must be one of"),
        ({"approval": {"wait_seconds": -1}}, "approval.wait_seconds must be a non-negative"),
        ({"approval": {"poll_seconds": 0}}, "approval.poll_seconds must be a positive"),
        ({"upstream_timeout_seconds": "soon"}, "upstream_timeout_seconds must be a positive"),
        ({"approval": {"wait_seconds": True}}, "approval.wait_seconds"),
    ],
)
def test_configuration_errors_name_the_key(data: Any, fragment: str) -> None:
    with pytest.raises(OpenLeashError) as caught:
        gateway_config(data)
    assert fragment in caught.value.message


def test_server_names_become_one_level_of_an_action_type() -> None:
    assert server_name("Test Shop") == "test-shop"
    assert server_name("files.v2") == "files-v2"
    assert server_name(None) == server_name("!!!") == "upstream"


# -- tool call -> action ---------------------------------------------------------------------------


def test_arguments_are_the_payload_and_mapped_fields_are_added() -> None:
    config = gateway_config(
        {
            "tools": {
                "buy": {
                    "action_type": "purchase",
                    "amount": "cents",
                    "currency": "cur",
                    "counterparty": "vendor",
                },
                "pay": {"amount": "cents", "default_currency": "EUR", "counterparty": "to"},
            }
        }
    )
    gateway = Gateway(config, FakeAgent(), "shop")

    async def actions() -> list[dict[str, Any]]:
        return [
            await gateway.action(
                "buy", {"item": "tea", "cents": 250, "cur": "USD", "vendor": "a.b"}
            ),
            await gateway.action("pay", {"cents": 99, "to": 42}),
            await gateway.action("other", {}),
        ]

    buy, pay, other = anyio.run(actions)
    assert buy["action_type"] == "purchase"
    assert buy["principal"] == {"agent_id": "agent-1"}
    assert buy["subject"] == {"principal_id": OWNER}
    assert buy["relying_party"] == {"domain": "a.b"}
    assert buy["payload"] == {
        "item": "tea",
        "cents": 250,
        "cur": "USD",
        "vendor": "a.b",
        "amount_minor": 250,
        "currency": "USD",
    }
    # A counterparty that is not a string is not one; the default currency fills in.
    assert pay["action_type"] == "mcp.shop.pay"
    assert "relying_party" not in pay
    assert pay["payload"] == {"cents": 99, "to": 42, "amount_minor": 99, "currency": "EUR"}
    assert other["payload"] == {}
    for action in (buy, pay, other):
        assert parse_action(action) == action  # a valid ActionRequest, nothing stripped


# -- every way of not getting an ALLOW ------------------------------------------------------------


def test_an_unreachable_server_or_a_refusal_leaves_the_tool_unrun() -> None:
    upstream = Upstream()
    for error, words in [
        (TransportError("POST /v1/authorize: connection refused"), "could not be asked"),
        (ApiError("HTTP_ERROR", "Bad Gateway", 502), "answered HTTP 502 without a decision"),
        (ApiError("NO_POLICY", "No policy bound", 403), "NO_POLICY: No policy bound"),
    ]:
        result = _call(Gateway(GatewayConfig(), FakeAgent(error), "s"), "t", {}, upstream)
        assert isinstance(result, types.CallToolResult)
        assert result.is_error
        assert words in _text(result)
        assert "the tool was not run" in _text(result)
    assert upstream.calls == []


def test_an_unknown_result_is_a_denial() -> None:
    upstream = Upstream()
    result = _call(Gateway(GatewayConfig(), FakeAgent({"result": "MAYBE"}), "s"), "t", {}, upstream)
    assert isinstance(result, types.CallToolResult)
    assert result.is_error
    assert upstream.calls == []


def test_an_expired_request_is_reported_and_not_kept() -> None:
    held = {"result": "REQUIRE_STEP_UP", "decision_id": "d-1", "reason": "step up"}
    agent = FakeAgent(held, held, statuses=({"status": "EXPIRED"},))
    gateway = Gateway(GatewayConfig(approval_wait_seconds=0), agent, "s")
    upstream = Upstream()
    first = _call(gateway, "t", {"a": 1}, upstream)
    assert "is EXPIRED without an approval" in _text(first)
    # Not kept: the same call again is a new action and a new request.
    _call(gateway, "t", {"a": 1}, upstream)
    assert len(agent.asked) == 2
    assert len(agent.filed) == 2
    assert agent.filed[0] == ("d-1", "The agent called the tool `t` of the MCP server `s`.")
    assert upstream.calls == []


def test_an_approval_token_the_policy_no_longer_honours_runs_nothing() -> None:
    held = {"result": "REQUIRE_APPROVAL", "decision_id": "d-1"}
    denied = {"result": "DENY", "decision_id": "d-2", "reason": 'Denied by rule "x"'}
    approved = {"status": "APPROVED", "approval_token": "v4.public.token"}
    agent = FakeAgent(held, denied, statuses=(approved,))
    upstream = Upstream()
    result = _call(Gateway(GatewayConfig(), agent, "s"), "t", {}, upstream)
    assert "OpenLeash denied this call to `t`" in _text(result)
    assert agent.asked[1]["approval_token"] == "v4.public.token"
    assert agent.asked[1]["action_id"] == agent.asked[0]["action_id"]  # the identical action
    assert upstream.calls == []


def test_an_allow_without_a_proof_forwards_the_decision_and_action_only() -> None:
    agent = FakeAgent({"result": "ALLOW", "decision_id": "d-1", "proof_token": None})
    upstream = Upstream()
    _call(Gateway(GatewayConfig(), agent, "s"), "t", {"x": 1}, upstream)
    [meta] = upstream.calls
    assert set(meta) == {"openleash/decision_id", "openleash/action"}
    assert meta["openleash/action"]["payload"] == {"x": 1}


def test_the_callers_meta_goes_upstream_without_sdk_progress_or_openleash_keys() -> None:
    from openleash.integrations.mcp_proxy import _meta

    params = types.CallToolRequestParams(
        name="buy",
        _meta={
            "openleash/proof": "forged",
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "progressToken": 7,
            "trace": "abc",
        },
    )
    assert _meta(params) == {"trace": "abc"}
    assert _meta(None) == {}


def test_a_request_stays_held_while_openleash_is_unreachable() -> None:
    held = {"result": "REQUIRE_APPROVAL", "decision_id": "d-1"}
    approved = {"status": "APPROVED", "approval_token": "v4.public.token"}
    allowed = {"result": "ALLOW", "decision_id": "d-2", "proof_token": "v4.public.proof"}
    agent = FakeAgent(held, allowed, statuses=(approved,))
    real_approval = agent.get_approval_request
    outage = [TransportError("GET /v1/agent/approval-requests/req-1: connection refused")]

    async def flaky(approval_request_id: str) -> ApprovalRequest:
        if outage:
            raise outage.pop()
        return await real_approval(approval_request_id)

    agent.get_approval_request = flaky  # type: ignore[method-assign]  # an outage, then the answer
    gateway = Gateway(GatewayConfig(), agent, "s")
    upstream = Upstream()
    first = _call(gateway, "t", {"a": 1}, upstream)
    assert "could not be asked" in _text(first)
    second = _call(gateway, "t", {"a": 1}, upstream)
    assert isinstance(second, types.CallToolResult)
    assert not second.is_error
    assert len(agent.filed) == 1  # the same request, picked up again
    assert upstream.calls[0]["openleash/proof"] == "v4.public.proof"
