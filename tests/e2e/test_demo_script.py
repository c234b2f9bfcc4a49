"""The README's first command: ``scripts/demo`` sets up a demo and serves it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.live import REPO, cli_env, free_port

pytestmark = pytest.mark.e2e


def test_demo_script_serves_a_ready_demo(tmp_path: Path) -> None:
    port = free_port()
    demo_dir = tmp_path / "demo"
    env = cli_env(
        {"OPENLEASH_DEMO_DIR": str(demo_dir), "OPENLEASH_PORT": str(port), "OPENLEASH_WORKERS": "1"}
    )
    with (tmp_path / "demo.log").open("wb") as log:
        process = subprocess.Popen(
            [str(REPO / "scripts" / "demo")],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("scripts/demo did not start serving in 180 s")
        printed = (tmp_path / "demo.log").read_text()
        assert "Demo ready" in printed
        assert f"http://127.0.0.1:{port}/gui" in printed
        env_file = demo_dir / "agent.env"
        # the agent's settings name the port the demo serves on
        assert f"OPENLEASH_URL=http://127.0.0.1:{port}" in env_file.read_text()
        result = subprocess.run(
            [sys.executable, str(REPO / "examples" / "authorize_demo.py"), str(env_file)],
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "purchase of 5000: ALLOW" in result.stdout
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
