"""The "MCP gateway" and "AuthZEN" sections of docs/integrations.md, run as written against a
live server: each code block whose first line is ``# <file name>`` is that file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openleash.integrations.mcp_config import gateway_config
from openleash.policy.syntax import load_yaml
from tests.support.live import REPO, Credentials, LiveServer, cli_env, free_port, provision

pytestmark = pytest.mark.e2e

DOC = REPO / "docs" / "integrations.md"
SECTIONS = ("## MCP gateway", "## AuthZEN")
PEP_TOKEN = "docs-pep-token-0123456789abcdef"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _sections(text: str) -> list[str]:
    parts = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    return [part for part in parts if part.startswith(SECTIONS)]


def named_blocks() -> dict[str, str]:
    blocks: dict[str, str] = {}
    for section in _sections(DOC.read_text(encoding="utf-8")):
        for match in _FENCE.finditer(section):
            body = match.group(2)
            name = re.fullmatch(r"# (\S+\.(?:py|yaml))", body.splitlines()[0].strip())
            if name:
                blocks[name.group(1)] = body
    return blocks


def text_blocks() -> list[str]:
    return [
        m.group(2)
        for section in _sections(DOC.read_text(encoding="utf-8"))
        for m in _FENCE.finditer(section)
        if m.group(1) == "text"
    ]


@dataclass
class Docs:
    live: LiveServer
    creds: Credentials
    work: Path

    def run(self, name: str) -> list[str]:
        env = cli_env(
            {
                "OPENLEASH_URL": self.live.url,
                "OPENLEASH_AGENT_ID": self.creds.agent_id,
                "OPENLEASH_AGENT_PRIVATE_KEY_B64": self.creds.private_key_b64,
                "OPENLEASH_PEP_TOKEN": PEP_TOKEN,
            }
        )
        # The examples call the `openleash` command, as a user with the package installed would.
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        done = subprocess.run(
            [sys.executable, name],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.splitlines()


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    blocks = named_blocks()
    root: Path = tmp_path_factory.mktemp("docs-integrations")
    (root / "config.yaml").write_text(f"authzen:\n  pep_tokens: [{PEP_TOKEN}]\n")
    live = LiveServer(root, free_port(), workers=1)
    creds = provision(live.data_dir, blocks["policy.yaml"])
    live.start()
    work = root / "work"
    work.mkdir()
    for name, body in blocks.items():
        (work / name).write_text(body, encoding="utf-8")
    (work / "agent.env").write_text(
        f"OPENLEASH_URL={live.url}\nOPENLEASH_AGENT_ID={creds.agent_id}\n"
        f"OPENLEASH_AGENT_PRIVATE_KEY_B64={creds.private_key_b64}\n"
    )
    try:
        yield Docs(live, creds, work)
    finally:
        live.stop()


def test_the_documented_files_are_all_there() -> None:
    assert set(named_blocks()) == {
        "gateway.yaml",
        "policy.yaml",
        "shop_server.py",
        "mcp_client.py",
        "pep.py",
        "agent_batch.py",
    }
    assert gateway_config(load_yaml(named_blocks()["gateway.yaml"])).server == "shop"


def test_the_mcp_gateway_example_prints_what_the_docs_say(docs: Docs) -> None:
    bought, *denial = docs.run("mcp_client.py")
    assert re.fullmatch(r"Bought tea for 450 USD \(decision [0-9a-f-]{36}\)", bought)
    [expected] = [block for block in text_blocks() if "OpenLeash denied" in block]
    assert denial[0].startswith("True ")
    shown = [denial[0].removeprefix("True "), *denial[1:]]
    assert shown[: len(expected.splitlines())] == expected.splitlines()


def test_the_authzen_pep_example_gets_a_permit(docs: Docs) -> None:
    assert docs.run("pep.py") == ["permit, proof v4.public."]


def test_the_authzen_batch_example_stops_at_the_first_deny(docs: Docs) -> None:
    assert docs.run("agent_batch.py") == ["[(True, 'ALLOW'), (False, 'REQUIRE_APPROVAL')]"]
