"""A real OpenLeash server process on loopback, started by the tests themselves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.owners import signed_in

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("OPENLEASH_CONFIG", None)
    env.pop("OPENLEASH_DATA_DIR", None)
    env.update(extra or {})
    return env


def run_cli(
    data_dir: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``openleash`` in ``data_dir``'s parent folder, as a user would (``env``: variables
    set on top of this process's, e.g. ``OPENLEASH_DATABASE_URL``)."""
    return subprocess.run(
        [sys.executable, "-m", "openleash", *args],
        cwd=data_dir.parent,
        env=cli_env(env),
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


@dataclass
class LiveServer:
    root: Path
    port: int
    workers: int = 2
    #: Environment variables of the server on top of this process's (``OPENLEASH_DATABASE_URL``
    #: puts it on PostgreSQL).
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def start(self, timeout: float = 30.0) -> LiveServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "openleash",
                    "start",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    "--data-dir",
                    str(self.data_dir),
                ],
                cwd=self.root,
                env=cli_env(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1.0).status_code == 200:
                    # every worker must be up: ask a few times on fresh connections
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def kill(self) -> None:
        """``kill -9`` of the whole server (main process and workers)."""
        self.stop(signal.SIGKILL)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}{path}", timeout=10.0, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@dataclass(frozen=True)
class Credentials:
    agent_id: str
    private_key_b64: str
    owner_id: str


def provision(
    data_dir: Path, policy_yaml: str, agent_id: str = "agent-1", env: dict[str, str] | None = None
) -> Credentials:
    """An owner and an agent (``openleash init``), bound to ``policy_yaml`` alone."""
    env_file = data_dir.parent / f"{agent_id}.env"
    run_cli(
        data_dir,
        "init",
        "--owner-name",
        "Owner",
        "--agent-id",
        agent_id,
        "--output-env",
        str(env_file),
        "--data-dir",
        str(data_dir),
        env=env,
    )
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    where = ("--data-dir", str(data_dir))
    listed = run_cli(data_dir, "policy", "list", "--json", *where, env=env).stdout
    for policy in json.loads(listed)["policies"]:
        run_cli(data_dir, "policy", "delete", policy["policy_id"], *where, env=env)
    policy_file = data_dir.parent / f"{agent_id}-policy.yaml"
    policy_file.write_text(policy_yaml)
    run_cli(data_dir, "policy", "upsert", "--file", str(policy_file), *where, env=env)
    return Credentials(
        values["OPENLEASH_AGENT_ID"],
        values["OPENLEASH_AGENT_PRIVATE_KEY_B64"],
        values["USER_PRINCIPAL_ID"],
    )


OWNER_PASSPHRASE = "a passphrase for end-to-end tests"


def owner_login(server: LiveServer, owner_id: str, passphrase: str = OWNER_PASSPHRASE) -> str:
    """Set the owner's passphrase with a setup invite and log in: the session (bearer) token."""
    with httpx.Client(base_url=server.url, timeout=10.0) as http:
        return str(signed_in(http, owner_id, passphrase)["token"])
