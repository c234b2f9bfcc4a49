"""The SDK, guard, counterparty-verification and LangChain sections of docs/integrations.md,
run as written against a live server set up as ``scripts/demo`` sets it up.

Within those sections, a code block whose first line is ``# <name>.py`` is that file. Each file
runs as a script in a folder holding all of them and the demo's ``agent.env``; a
``text output`` block right after it is what the script must print. The ASGI applications
(:data:`SERVICES`) are served with uvicorn instead, and the agent script that calls them
(:data:`CALLER`) runs against each. An owner approves every approval request as it appears, as
the person reading the docs would in the portal.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from openleash.policy.profiles import profile_policy_yaml
from tests.support.live import REPO, LiveServer, cli_env, free_port, provision
from tests.support.owner_http import Owner

pytestmark = pytest.mark.e2e

DOC = REPO / "docs" / "integrations.md"
SECTIONS = (
    "## Agent SDK",
    "## Guarding tool calls",
    "## Counterparty verification",
    "## LangChain",
)
SERVICES = ("shop_service.py", "shop_middleware.py")
CALLER = "shop_agent.py"
_FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_NAME = re.compile(r"# (\w+\.py)")


@dataclass(frozen=True)
class Example:
    name: str
    code: str
    output: list[str] | None

    def requires(self) -> list[str]:
        """Packages outside the core install the example imports."""
        return [m for m in ("langchain_core",) if re.search(rf"^from {m}\b", self.code, re.M)]


def sections(text: str) -> list[str]:
    parts = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    return [part for part in parts if part.startswith(SECTIONS)]


def examples() -> list[Example]:
    found: list[Example] = []
    for section in sections(DOC.read_text(encoding="utf-8")):
        blocks = [(m.group(1), m.group(2).strip(), m.group(3)) for m in _FENCE.finditer(section)]
        for index, (lang, _, code) in enumerate(blocks):
            name = _NAME.fullmatch(code.splitlines()[0].strip()) if lang == "python" else None
            if name is None:
                continue
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            output = None
            if following is not None and following[:2] == ("text", "output"):
                output = following[2].splitlines()
            found.append(Example(name.group(1), code, output))
    return found


def scripts() -> list[Example]:
    return [e for e in examples() if e.name not in SERVICES]


@dataclass
class Demo:
    live: LiveServer
    work: Path
    shops: dict[str, str]

    def run(self, example: Example, **env: str) -> list[str]:
        for module in example.requires():
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{module} is not installed")
        done = subprocess.run(
            [sys.executable, example.name],
            cwd=self.work,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        return done.stdout.splitlines()


def serve(work: Path, name: str, url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{name.removesuffix('.py')}:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=work,
            env=cli_env({"OPENLEASH_URL": url}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            httpx.get(f"{base}/", timeout=1.0)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root: Path = tmp_path_factory.mktemp("docs-sdk")
    live = LiveServer(root, free_port(), workers=2)
    creds = provision(live.data_dir, profile_policy_yaml("balanced"), agent_id="demo-agent")
    live.start()
    work = root / "demo"
    work.mkdir()
    (work / "agent.env").write_text(
        f"OPENLEASH_URL={live.url}\nOPENLEASH_AGENT_ID={creds.agent_id}\n"
        f"OPENLEASH_AGENT_PRIVATE_KEY_B64={creds.private_key_b64}\n"
        f"USER_PRINCIPAL_ID={creds.owner_id}\n"
    )
    for example in examples():
        (work / example.name).write_text(example.code, encoding="utf-8")
    approver = Owner(live, creds.owner_id).approve_everything()
    services = [serve(work, name, live.url, root / f"{name}.log") for name in SERVICES]
    try:
        yield Demo(
            live, work, {name: base for name, (_, base) in zip(SERVICES, services, strict=True)}
        )
    finally:
        for process, _ in services:
            process.terminate()
            process.wait(timeout=10)
        approver.stop()
        live.stop()
    assert not approver.errors


def test_the_sections_have_their_examples() -> None:
    names = [e.name for e in examples()]
    assert len(names) == len(set(names)), "two examples with the same file name"
    assert {*SERVICES, CALLER} <= set(names)
    assert all(e.output is not None for e in scripts()), "every script shows what it prints"


@pytest.mark.parametrize("example", scripts(), ids=lambda e: e.name)
def test_the_example_prints_what_the_docs_say(demo: Demo, example: Example) -> None:
    env = {"SHOP_URL": demo.shops[SERVICES[0]]} if example.name == CALLER else {}
    assert demo.run(example, **env) == example.output


def test_the_agent_gets_the_same_answers_from_the_middleware_shop(demo: Demo) -> None:
    [caller] = [e for e in examples() if e.name == CALLER]
    assert demo.run(caller, SHOP_URL=demo.shops[SERVICES[1]]) == caller.output
