"""The README walkthrough, as a new user runs it: init, start, the example script, the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import REPO, LiveServer, cli_env, free_port, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    root = tmp_path_factory.mktemp("demo")
    live = LiveServer(root, free_port(), workers=2)
    env_file = root / "agent.env"
    run_cli(
        live.data_dir,
        "init",
        "--owner-name",
        "Demo Owner",
        "--agent-id",
        "demo-agent",
        "--policy-profile",
        "balanced",
        "--output-env",
        str(env_file),
        "--data-dir",
        str(live.data_dir),
    )
    text = env_file.read_text().replace("http://127.0.0.1:8787", live.url)
    env_file.write_text(text)
    live.start()
    yield live, env_file
    live.stop()


def test_example_script_allows_small_and_escalates_large(
    demo: tuple[LiveServer, Path],
) -> None:
    _, env_file = demo
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "authorize_demo.py"), str(env_file)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("purchase of 5000: ALLOW")
    assert lines[1].startswith("  proof verified offline: decision ")
    assert lines[2].startswith("purchase of 500000: REQUIRE_APPROVAL")


def test_cli_commands_of_the_walkthrough(demo: tuple[LiveServer, Path], tmp_path: Path) -> None:
    live, _ = demo
    data = ["--data-dir", str(live.data_dir)]
    assert "balanced" in run_cli(live.data_dir, "policy", "list", *data).stdout
    names = run_cli(live.data_dir, "playground", "list").stdout
    assert "large_purchase_requires_approval" in names
    run = run_cli(live.data_dir, "playground", "run", "large_purchase_requires_approval", *data)
    assert "REQUIRE_APPROVAL" in run.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n"
        "    action: purchase\n    constraints: { amount_mx: 5 }\n"
    )
    invalid = run_cli(live.data_dir, "policy", "validate", "--file", str(bad), check=False)
    assert invalid.returncode == 1
    assert "amount_mx" in invalid.stdout + invalid.stderr
    assert "line 7" in invalid.stdout + invalid.stderr
    rotated = run_cli(live.data_dir, "keys", "rotate", *data)
    assert rotated.returncode == 0
    verified = run_cli(live.data_dir, "audit", "verify", *data, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    tail = run_cli(live.data_dir, "audit", "tail", "-n", "5", *data)
    assert "KEY_ROTATED" in tail.stdout
