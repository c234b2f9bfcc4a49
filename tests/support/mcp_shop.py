"""A tiny MCP server for the gateway's tests: a shop and a file reader that echo back the
OpenLeash ``_meta`` they were called with, and log every call they run.

    python tests/support/mcp_shop.py --log calls.jsonl              # stdio
    python tests/support/mcp_shop.py --log calls.jsonl --port 9000  # streamable HTTP at /mcp
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("Test Shop")
_log: Path | None = None


def _received(tool: str, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
    meta = dict(ctx.request_context.meta or {})
    openleash = {key: value for key, value in meta.items() if key.startswith("openleash/")}
    if _log is not None:
        with _log.open("a", encoding="utf-8") as log:
            log.write(json.dumps({"tool": tool, "arguments": arguments, "meta": openleash}) + "\n")
    return {
        "tool": tool,
        "arguments": arguments,
        "proof": openleash.get("openleash/proof"),
        "decision_id": openleash.get("openleash/decision_id"),
        "action": openleash.get("openleash/action"),
    }


@server.tool()
def buy(item: str, amount_cents: int, currency: str, vendor: str, ctx: Context) -> dict[str, Any]:
    """Buy an item from a vendor."""
    arguments = {"item": item, "amount_cents": amount_cents, "currency": currency, "vendor": vendor}
    return _received("buy", arguments, ctx)


@server.tool()
def read_file(path: str, ctx: Context) -> dict[str, Any]:
    """Read a file (this one only pretends)."""
    return _received("read_file", {"path": path}, ctx)


@server.resource("shop://catalogue")
def catalogue() -> str:
    """What the shop sells."""
    return "tea, coffee, a bicycle"


def main() -> None:
    global _log
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    _log = args.log
    if args.port is None:
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
