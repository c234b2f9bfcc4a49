"""The MCP plumbing of the gateway: connect to the upstream server, serve the model's client.

Upstream is a command the proxy launches and talks to over stdio, or a streamable HTTP URL.
Downstream, the proxy serves stdio (an MCP client launched it) or streamable HTTP. The proxy
offers what the upstream offers: tools (each call through :class:`Gateway`), and resources,
prompts and completions passed through as they are.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import mcp_types as types
import uvicorn
from mcp import Client, ClientSession, StdioServerParameters
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from openleash.client import AsyncClient
from openleash.integrations.mcp_config import GatewayConfig, server_name
from openleash.integrations.mcp_gateway import Gateway, ProofMeta, ToolResult

log = logging.getLogger("openleash.mcp")

Context = ServerRequestContext[Any, Any]
#: ``_meta`` keys the proxy never passes upstream: the SDK's own (each session writes its own),
#: progress tokens (progress is not relayed) and ours (only the gateway writes those).
_OWN_META_PREFIXES = ("io.modelcontextprotocol/", "openleash/")
_NOT_FORWARDED_META = frozenset({"progressToken", "progress_token"})


@dataclass(frozen=True, slots=True)
class Upstream:
    """The real MCP server: a command to launch (stdio) or a streamable HTTP URL.

    A launched command gets the MCP SDK's default environment (``PATH``, ``HOME``, ...) plus
    ``env``, never the proxy's own: the agent's private key stays with the proxy."""

    command: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def client(self, timeout: float) -> Client:
        if self.url:
            return Client(self.url, cache=None, read_timeout_seconds=timeout)
        if not self.command:
            raise ValueError("an upstream needs a command or a URL")
        params = StdioServerParameters(
            command=self.command[0], args=list(self.command[1:]), env=dict(self.env) or None
        )
        return Client(params, cache=None, read_timeout_seconds=timeout)


@asynccontextmanager
async def connected(
    upstream: Upstream, config: GatewayConfig, agent: AsyncClient
) -> AsyncIterator[Server[Any]]:
    """The proxy's MCP server, connected to the upstream for as long as the context lasts."""
    async with upstream.client(config.upstream_timeout_seconds) as client:
        info = client.server_info
        gateway = Gateway(config, agent, config.server or server_name(info.name if info else None))
        log.info("upstream %s connected; tool calls are %s", info, gateway.server)
        yield proxy_server(client, gateway)


async def serve_stdio(upstream: Upstream, config: GatewayConfig, agent: AsyncClient) -> None:
    """Serve one MCP client over this process's stdin and stdout until it hangs up."""
    async with connected(upstream, config, agent) as server, stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(
    upstream: Upstream,
    config: GatewayConfig,
    agent: AsyncClient,
    *,
    host: str,
    port: int,
    path: str = "/mcp",
) -> None:
    """Serve streamable HTTP at ``http://host:port/path`` until the process is stopped.

    Anyone who can reach this address acts with the agent's authority: keep it on loopback
    (the default) or behind something that authenticates."""
    async with connected(upstream, config, agent) as server:
        app = server.streamable_http_app(streamable_http_path=path, host=host)
        config_ = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        await uvicorn.Server(config_).serve()


def proxy_server(client: Client, gateway: Gateway) -> Server[Any]:
    """A server offering what the upstream offers, each request relayed to it."""
    session = client.session
    offers = client.server_capabilities
    relay = _Relay(session, gateway)
    info = client.server_info
    return Server(
        info.name if info else "openleash-mcp-proxy",
        version=info.version if info else "",
        instructions=client.instructions,
        on_list_tools=relay.list_tools if offers.tools else None,
        on_call_tool=relay.call_tool if offers.tools else None,
        on_list_resources=relay.list_resources if offers.resources else None,
        on_list_resource_templates=relay.list_templates if offers.resources else None,
        on_read_resource=relay.read_resource if offers.resources else None,
        on_list_prompts=relay.list_prompts if offers.prompts else None,
        on_get_prompt=relay.get_prompt if offers.prompts else None,
        on_completion=relay.complete if offers.completions else None,
    )


class _Relay:
    """The proxy's request handlers: one upstream request each."""

    def __init__(self, session: ClientSession, gateway: Gateway) -> None:
        self.session = session
        self.gateway = gateway

    async def call_tool(self, ctx: Context, params: types.CallToolRequestParams) -> ToolResult:
        async def forward(extra: ProofMeta) -> ToolResult:
            return await self.session.call_tool(
                params.name,
                params.arguments,
                input_responses=params.input_responses,
                request_state=params.request_state,
                meta=cast(types.RequestParamsMeta, {**_meta(params), **extra}),
                allow_input_required=True,
            )

        return await self.gateway.call_tool(params.name, params.arguments, forward)

    async def list_tools(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return await self.session.list_tools(params=_page(params))

    async def list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return await self.session.list_resources(params=_page(params))

    async def list_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return await self.session.list_resource_templates(params=_page(params))

    async def read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        return await self.session.read_resource(
            str(params.uri),
            input_responses=params.input_responses,
            request_state=params.request_state,
            meta=_typed_meta(params),
            allow_input_required=True,
        )

    async def list_prompts(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return await self.session.list_prompts(params=_page(params))

    async def get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        return await self.session.get_prompt(
            params.name,
            params.arguments,
            input_responses=params.input_responses,
            request_state=params.request_state,
            meta=_typed_meta(params),
            allow_input_required=True,
        )

    async def complete(
        self, ctx: Context, params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        context = params.context.arguments if params.context else None
        return await self.session.complete(
            ref=params.ref,
            argument={"name": params.argument.name, "value": params.argument.value},
            context_arguments=context,
        )


def _meta(params: types.RequestParams | None) -> dict[str, object]:
    """The caller's ``_meta`` entries that go upstream (see :data:`_OWN_META_PREFIXES`)."""
    meta = (params.meta if params is not None else None) or {}
    return {
        key: value
        for key, value in meta.items()
        if key not in _NOT_FORWARDED_META and not key.startswith(_OWN_META_PREFIXES)
    }


def _typed_meta(params: types.RequestParams | None) -> types.RequestParamsMeta | None:
    return cast(types.RequestParamsMeta, _meta(params)) or None


def _page(params: types.PaginatedRequestParams | None) -> types.PaginatedRequestParams:
    return types.PaginatedRequestParams(
        cursor=params.cursor if params is not None else None, _meta=_typed_meta(params)
    )
