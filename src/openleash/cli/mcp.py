"""``openleash mcp-proxy``: put OpenLeash between an MCP client and an MCP server."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import click

from openleash.cli.common import fails_cleanly
from openleash.domain.errors import InvalidInputError
from openleash.integrations.mcp_config import GatewayConfig, gateway_config
from openleash.policy.syntax import YamlError, load_yaml

#: What the proxy reads from ``--agent-env`` or the environment (``openleash init`` writes it),
#: as :meth:`openleash.client.AsyncClient.from_env` does (``USER_PRINCIPAL_ID`` too, if set).
ENV_URL = "OPENLEASH_URL"
ENV_AGENT_ID = "OPENLEASH_AGENT_ID"
ENV_PRIVATE_KEY = "OPENLEASH_AGENT_PRIVATE_KEY_B64"


@click.command(
    "mcp-proxy",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Gateway configuration, YAML or JSON: the action type and argument mapping per tool.",
)
@click.option(
    "--upstream-url",
    default=None,
    help="Reach the upstream MCP server over streamable HTTP at this URL instead of "
    "launching COMMAND.",
)
@click.option(
    "--upstream-env",
    multiple=True,
    metavar="NAME=VALUE",
    help="An environment variable for the launched upstream command (repeatable). It gets "
    "no other variables of the proxy's environment beyond PATH, HOME and the like.",
)
@click.option(
    "--listen",
    default=None,
    metavar="HOST:PORT",
    help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio. Anyone who can "
    "reach it acts as the agent: keep it on loopback.",
)
@click.option(
    "--agent-env",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help=f"KEY=value file with {ENV_URL}, {ENV_AGENT_ID} and {ENV_PRIVATE_KEY}, as "
    "`openleash init --output-env` writes it (default: those environment variables).",
)
@click.option(
    "--server-name",
    default=None,
    help="The <server> of the default action types mcp.<server>.<tool> (default: the "
    "config's `server`, else the name the upstream gives itself).",
)
@click.option(
    "--approval-wait",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds a tool call waits for the owner's approval (default: the config's, else 30).",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@fails_cleanly
def mcp_proxy(
    config_path: Path | None,
    upstream_url: str | None,
    upstream_env: tuple[str, ...],
    listen: str | None,
    agent_env: Path | None,
    server_name: str | None,
    approval_wait: float | None,
    command: tuple[str, ...],
) -> None:
    """Run an MCP gateway that asks OpenLeash before every tool call.

    The upstream MCP server is COMMAND (launched, over stdio) or --upstream-url. The gateway
    serves stdio (for an MCP client that launches it) or, with --listen, streamable HTTP.

    \b
      openleash mcp-proxy --config gateway.yaml -- python shop_server.py
      openleash mcp-proxy --upstream-url http://127.0.0.1:9000/mcp --listen 127.0.0.1:8800
    """
    # Imported here: only this command loads the MCP SDK and the HTTP client.
    from openleash.client import AsyncClient
    from openleash.integrations.mcp_proxy import Upstream, serve_http, serve_stdio

    if bool(command) == bool(upstream_url):
        raise click.UsageError("Give the upstream as COMMAND (after --) or as --upstream-url.")
    config = _config(config_path, server_name, approval_wait)
    upstream = Upstream(command=command, url=upstream_url, env=_pairs(upstream_env))
    values = _agent_values(agent_env)
    # Logs go to stderr: in stdio mode stdout carries the MCP messages.
    logging.basicConfig(level=logging.WARNING, format="openleash mcp-proxy: %(message)s")

    async def run() -> None:
        async with AsyncClient.from_env(values) as agent:
            if listen is None:
                await serve_stdio(upstream, config, agent)
            else:
                host, port = _address(listen)
                await serve_http(upstream, config, agent, host=host, port=port)

    asyncio.run(run())


def _config(path: Path | None, server_name: str | None, wait: float | None) -> GatewayConfig:
    data = None
    if path is not None:
        try:
            data = load_yaml(path.read_text(encoding="utf-8"))
        except YamlError as exc:
            raise InvalidInputError("VALIDATION_ERROR", f"{path}: {exc}") from None
    config = gateway_config(data)
    if server_name:
        config = replace(config, server=server_name)
    if wait is not None:
        config = replace(config, approval_wait_seconds=wait)
    return config


def _agent_values(env_file: Path | None) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k.startswith(("OPENLEASH_", "USER_"))}
    if env_file is not None:
        lines = env_file.read_text(encoding="utf-8").splitlines()
        values.update(_pairs(line.strip() for line in lines if "=" in line))
    missing = [name for name in (ENV_URL, ENV_AGENT_ID, ENV_PRIVATE_KEY) if not values.get(name)]
    if missing:
        raise click.UsageError(
            f"Missing {', '.join(missing)}: pass --agent-env FILE or set the environment."
        )
    return values


def _pairs(items: Iterable[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"Expected NAME=VALUE, got {item!r}")
        pairs[name.strip()] = value.strip()
    return pairs


def _address(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.UsageError(f"--listen must look like 127.0.0.1:8800, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)
