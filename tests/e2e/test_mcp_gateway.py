"""``openleash mcp-proxy`` between a real MCP client session and a real MCP server process,
asking a real OpenLeash server on loopback before every tool call, over stdio and over
streamable HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from openleash.crypto import action_hash, verify_token_with_public_keys
from tests.support.live import REPO, Credentials, LiveServer, cli_env, free_port, provision
from tests.support.owner_http import Owner

pytestmark = pytest.mark.e2e

SHOP = REPO / "tests" / "support" / "mcp_shop.py"
#: Every wait in these tests ends: MCP requests, the owner's approver, process start-up.
TIMEOUT = 60.0

POLICY = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 5000 }
    proof: { required: true, ttl_seconds: 300 }
  - id: large_purchases_ask_me
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: no_secrets
    effect: deny
    action: files.read
    when: { match: { path: "$.payload.path", op: regex, value: "secret" } }
  - id: read_files
    effect: allow
    action: files.read
    proof: { required: true, ttl_seconds: 300 }
"""
GATEWAY = """\
server: shop
approval: { wait_seconds: 30, poll_seconds: 0.2 }
tools:
  buy:
    action_type: purchase
    amount: amount_cents
    currency: currency
    counterparty: vendor
    counterparty_field: payload.merchant_domain
  read_file:
    action_type: files.read
"""


@dataclass
class World:
    root: Path
    live: LiveServer
    creds: Credentials
    config: Path
    agent_env: Path
    owner: Owner

    def pending(self, item: str) -> list[dict[str, Any]]:
        return [r for r in self.owner.pending() if r["action"]["payload"].get("item") == item]

    def proxy_args(self, *extra: str) -> list[str]:
        return [
            "-m",
            "openleash",
            "mcp-proxy",
            "--config",
            str(self.config),
            "--agent-env",
            str(self.agent_env),
            *extra,
        ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("mcp-gateway")
    live = LiveServer(root, free_port(), workers=1)
    creds = provision(live.data_dir, POLICY)
    live.start()
    config = root / "gateway.yaml"
    config.write_text(GATEWAY)
    agent_env = root / "gateway-agent.env"
    agent_env.write_text(
        f"OPENLEASH_URL={live.url}\nOPENLEASH_AGENT_ID={creds.agent_id}\n"
        f"OPENLEASH_AGENT_PRIVATE_KEY_B64={creds.private_key_b64}\n"
    )
    try:
        yield World(root, live, creds, config, agent_env, Owner(live, creds.owner_id))
    finally:
        live.stop()


# -- connecting ------------------------------------------------------------------------------------


@asynccontextmanager
async def over_stdio(world: World, log: Path, *extra: str) -> AsyncIterator[ClientSession]:
    """An MCP client that launches the proxy, which launches the shop server."""
    params = StdioServerParameters(
        command=sys.executable,
        args=[*world.proxy_args(*extra), "--", sys.executable, str(SHOP), "--log", str(log)],
        env={"PYTHONPATH": str(REPO / "src")},
        cwd=str(world.root),
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session,
    ):
        await session.initialize()
        yield session


@dataclass
class Process:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _serve(args: list[str], port: int, log: Path, cwd: Path) -> Process:
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=cli_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited early:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return Process(process, url)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{args} not listening in {TIMEOUT}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def http_proxy(world: World, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The shop serving streamable HTTP, and the proxy serving streamable HTTP in front of it."""
    calls = tmp_path / "calls.jsonl"
    shop_port, proxy_port = free_port(), free_port()
    shop = _serve(
        [str(SHOP), "--log", str(calls), "--port", str(shop_port)],
        shop_port,
        tmp_path / "shop.log",
        tmp_path,
    )
    try:
        proxy = _serve(
            world.proxy_args("--upstream-url", shop.url, "--listen", f"127.0.0.1:{proxy_port}"),
            proxy_port,
            tmp_path / "proxy.log",
            world.root,
        )
        try:
            yield proxy.url, calls
        finally:
            proxy.stop()
    finally:
        shop.stop()


@asynccontextmanager
async def over_http(url: str) -> AsyncIterator[ClientSession]:
    async with (
        streamable_http_client(url) as (read, write),
        ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session,
    ):
        await session.initialize()
        yield session


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run a scenario on an event loop, failing it if it takes longer than it ever should."""

    async def bounded() -> None:
        with anyio.fail_after(2 * TIMEOUT):
            await scenario()

    anyio.run(bounded)


# -- what the tests check ------------------------------------------------------------------------


def calls_made(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def received(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def verified_proof(world: World, seen: dict[str, Any]) -> dict[str, Any]:
    """The proof the upstream received, verified against the server's published keys and
    bound to the action the upstream was told about."""
    keys = httpx.get(f"{world.live.url}/v1/public-keys", timeout=10).json()["keys"]
    claims = verify_token_with_public_keys(
        seen["proof"], keys, now=datetime.now(UTC), purpose="proof"
    )
    assert claims["action_hash"] == action_hash(seen["action"])
    assert claims["agent_id"] == world.creds.agent_id
    assert claims["decision_id"] == seen["decision_id"]
    return claims


def answer_when_asked(world: World, item: str, answer: Callable[[str], object]) -> threading.Thread:
    """The owner, in another thread: answers the first pending request for ``item`` (``answer``
    gets its id)."""

    def run() -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for request in world.pending(item):
                answer(request["approval_request_id"])
                return
            time.sleep(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def buy(item: str, amount_cents: int) -> dict[str, Any]:
    return {"item": item, "amount_cents": amount_cents, "currency": "USD", "vendor": "Shop.Example"}


# -- stdio ---------------------------------------------------------------------------------------


def test_tools_list_and_resources_pass_through(world: World, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with over_stdio(world, tmp_path / "calls.jsonl") as session:
            tools = await session.list_tools()
            assert {tool.name for tool in tools.tools} == {"buy", "read_file"}
            resources = await session.list_resources()
            assert [str(r.uri) for r in resources.resources] == ["shop://catalogue"]
            read = await session.read_resource("shop://catalogue")
            assert "bicycle" in str(read.contents[0])

    run(scenario)
    assert calls_made(tmp_path / "calls.jsonl") == []


def test_an_allowed_call_reaches_the_server_with_a_proof_it_can_verify(
    world: World, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"

    async def scenario() -> None:
        async with over_stdio(world, log) as session:
            seen = received(await session.call_tool("buy", buy("tea", 1200)))
            claims = verified_proof(world, seen)
            assert claims["action_type"] == "purchase"
            assert claims["matched_rule_id"] == "small_purchases"
            action = seen["action"]
            assert action["principal"] == {"agent_id": world.creds.agent_id}
            assert action["payload"] == {
                **buy("tea", 1200),
                "amount_minor": 1200,
                "merchant_domain": "Shop.Example",
            }

    run(scenario)
    assert [call["tool"] for call in calls_made(log)] == ["buy"]


def test_a_denied_call_is_a_tool_error_the_model_can_read_and_never_runs(
    world: World, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"

    async def scenario() -> None:
        async with over_stdio(world, log) as session:
            result = await session.call_tool("read_file", {"path": "/home/me/secret.txt"})
            assert result.is_error
            text = _text(result)
            assert "OpenLeash denied this call to `read_file`; the tool was not run." in text
            assert "Reason:" in text
            assert "no_secrets" in text
            assert result.meta is not None
            assert result.meta["openleash/decision"]["result"] == "DENY"
            # A call the policy allows still goes through on the same session.
            seen = received(await session.call_tool("read_file", {"path": "/home/me/notes.txt"}))
            assert verified_proof(world, seen)["matched_rule_id"] == "read_files"

    run(scenario)
    assert [call["arguments"] for call in calls_made(log)] == [{"path": "/home/me/notes.txt"}]


def test_a_call_waits_for_the_owner_and_runs_once_approved(world: World, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    approver = answer_when_asked(world, "bicycle", world.owner.approve)

    async def scenario() -> None:
        async with over_stdio(world, log) as session:
            seen = received(await session.call_tool("buy", buy("bicycle", 90000)))
            claims = verified_proof(world, seen)
            assert claims["approval_request_id"]
            assert claims["approved_by"] == world.creds.owner_id

    run(scenario)
    approver.join(timeout=TIMEOUT)
    assert [call["arguments"]["item"] for call in calls_made(log)] == ["bicycle"]


def test_an_approval_still_pending_is_reported_and_a_repeated_call_picks_it_up(
    world: World, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"

    async def scenario() -> None:
        async with over_stdio(world, log, "--approval-wait", "0.5") as session:
            waiting = await session.call_tool("buy", buy("sofa", 70000))
            assert waiting.is_error
            [request] = world.pending("sofa")
            request_id = request["approval_request_id"]
            text = _text(waiting)
            assert f"approval_request_id: {request_id}" in text
            assert "still pending" in text
            assert "the tool was not run" in text
            assert calls_made(log) == []

            world.owner.approve(request_id)
            seen = received(await session.call_tool("buy", buy("sofa", 70000)))
            assert verified_proof(world, seen)["approval_request_id"] == request_id
            assert seen["action"]["action_id"] == request["action"]["action_id"]

    run(scenario)
    assert [call["arguments"]["item"] for call in calls_made(log)] == ["sofa"]


def test_the_owner_denying_is_reported_and_nothing_runs(world: World, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    owner = answer_when_asked(world, "yacht", lambda id_: world.owner.deny(id_, "no boats"))

    async def scenario() -> None:
        async with over_stdio(world, log) as session:
            result = await session.call_tool("buy", buy("yacht", 5_000_000))
            assert result.is_error
            assert "The owner denied this call to `buy`" in _text(result)
            assert "no boats" in _text(result)

    run(scenario)
    owner.join(timeout=TIMEOUT)
    assert calls_made(log) == []


# -- streamable HTTP -----------------------------------------------------------------------------


def test_streamable_http_on_both_sides(world: World, http_proxy: tuple[str, Path]) -> None:
    url, log = http_proxy

    async def scenario() -> None:
        async with over_http(url) as session:
            tools = await session.list_tools()
            assert {tool.name for tool in tools.tools} == {"buy", "read_file"}
            seen = received(await session.call_tool("buy", buy("coffee", 800)))
            assert verified_proof(world, seen)["matched_rule_id"] == "small_purchases"
            denied = await session.call_tool("read_file", {"path": "secret/keys"})
            assert denied.is_error
            assert "denied" in _text(denied)
        # A client speaking the newer protocol revision, through the same proxy.
        async with Client(url, cache=None, read_timeout_seconds=TIMEOUT) as client:
            seen = received(await client.call_tool("buy", buy("milk", 300)))
            assert verified_proof(world, seen)["action_type"] == "purchase"

    run(scenario)
    assert [call["arguments"]["item"] for call in calls_made(log)] == ["coffee", "milk"]
