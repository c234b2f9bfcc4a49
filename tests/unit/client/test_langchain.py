"""A LangChain tool wrapped by ``guarded_tool``, driven by a fake chat model's tool calls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool, tool

from openleash.client import ActionDenied, current_proof
from openleash.integrations.langchain import guarded_tool
from tests.unit.client.fakes import OWNER_ID, FakeServer, decision


@tool
def buy(item: str, amount_minor: int) -> str:
    """Buy an item for an amount in minor units."""
    return f"bought {item} for {amount_minor} with proof {current_proof()}"


def tool_call_from_model(args: dict[str, Any]) -> ToolCall:
    """The tool call a (fake) chat model emits."""
    model = GenericFakeChatModel(
        messages=iter(
            [AIMessage(content="", tool_calls=[{"name": "buy", "args": args, "id": "c1"}])]
        )
    )
    message = model.invoke("buy me some tea")
    assert isinstance(message, AIMessage)
    return message.tool_calls[0]


def purchase(item: str, amount_minor: int) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": "EUR", "item": item}


def test_a_tool_call_is_authorized_before_the_tool_runs() -> None:
    server = FakeServer()
    guarded = guarded_tool(
        buy, server.client(owner_id=OWNER_ID), action_type="purchase", payload=purchase
    )
    assert (guarded.name, guarded.description) == (buy.name, buy.description)
    assert guarded.tool_call_schema.model_json_schema()["properties"].keys() == {
        "item",
        "amount_minor",
    }
    result = guarded.invoke(tool_call_from_model({"item": "tea", "amount_minor": 450}))
    assert isinstance(result, ToolMessage)
    assert result.tool_call_id == "c1"
    assert result.content == "bought tea for 450 with proof proof-1"
    action = server.authorized[0]["action"]
    assert action["action_type"] == "purchase"
    assert action["payload"] == {"amount_minor": 450, "currency": "EUR", "item": "tea"}


def test_a_denied_tool_call_raises_and_the_tool_does_not_run() -> None:
    ran: list[int] = []

    @tool
    def pay(amount_minor: int) -> str:
        """Pay."""
        ran.append(amount_minor)
        return "paid"

    server = FakeServer(decide=lambda action, token: decision("DENY", reason="no"))
    guarded = guarded_tool(pay, server.client(owner_id=OWNER_ID), action_type="payment")
    with pytest.raises(ActionDenied):
        guarded.invoke({"amount_minor": 5})
    assert ran == []
    assert server.authorized[0]["action"]["payload"] == {"amount_minor": 5}


def test_tell_model_turns_a_refusal_into_the_tool_error_the_model_reads() -> None:
    server = FakeServer(decide=lambda action, token: decision("DENY", reason="over budget"))
    guarded = guarded_tool(
        buy, server.client(owner_id=OWNER_ID), action_type="purchase", tell_model=True
    )
    result = guarded.invoke(tool_call_from_model({"item": "car", "amount_minor": 10**7}))
    assert isinstance(result, ToolMessage)
    assert result.status == "error"
    assert "over budget" in str(result.content)


def test_async_invocation_with_an_async_client() -> None:
    server = FakeServer()
    client = server.async_client(owner_id=OWNER_ID)
    guarded: BaseTool = guarded_tool(buy, client, action_type="purchase", payload=purchase)

    async def run() -> Any:
        return await guarded.ainvoke(tool_call_from_model({"item": "tea", "amount_minor": 1}))

    result = asyncio.run(run())
    assert result.content == "bought tea for 1 with proof proof-1"


def test_a_tool_with_an_artifact_keeps_it() -> None:
    @tool(response_format="content_and_artifact")
    def quote(item: str) -> tuple[str, dict[str, Any]]:
        """Quote a price."""
        return f"{item}: 3 EUR", {"proof": current_proof()}

    guarded = guarded_tool(quote, FakeServer().client(owner_id=OWNER_ID), action_type="quote")
    result = guarded.invoke(
        {"type": "tool_call", "name": "quote", "args": {"item": "x"}, "id": "c9"}
    )
    assert isinstance(result, ToolMessage)
    assert result.artifact == {"proof": "proof-1"}
