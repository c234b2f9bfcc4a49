"""Running the official OpenLeash Python SDK against a live server.

The SDK (PyPI ``openleash-sdk``) imports as ``openleash``, the same name as this project's
package. It is installed once into ``.cache/interop/`` with ``pip install --target`` and driven
from a separate interpreter (``sdk_driver.py``) that sees only the standard library and that
folder, never this project's ``src``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.actions import action
from tests.support.deployment import Deployment
from tests.support.live import REPO

SDK_REQUIREMENT = "openleash-sdk==0.3.0"
SDK_DIR = REPO / ".cache" / "interop" / "openleash-sdk-0.3.0"
DRIVER = Path(__file__).resolve().parent / "sdk_driver.py"

# The policy every interop test runs against, bound to all the owner's agents.
POLICY_YAML = """\
version: 1
default: deny
rules:
  - id: purchase_small_allow
    effect: allow
    action: purchase
    constraints:
      amount_max: 10000
      currency: [USD]
    proof:
      required: true
      ttl_seconds: 300
  - id: purchase_large_approval
    effect: allow
    action: purchase
    constraints:
      amount_min: 10001
      currency: [USD]
    obligations:
      - type: HUMAN_APPROVAL
        params:
          approver: owner
  - id: government_submit_high
    effect: allow
    action: government.submit_document
    requirements:
      min_assurance_level: HIGH
  - id: communication_deny
    effect: deny
    action: communication.send
"""


def _sdk_installed(target: Path) -> bool:
    return (target / "openleash" / "client.py").is_file() and (
        target / "openleash_sdk-0.3.0.dist-info"
    ).is_dir()


def install_sdk(target: Path = SDK_DIR) -> Path:
    """Install the SDK (and its dependencies) into ``target`` unless it is already there.

    The install goes to a scratch folder first and is renamed into place when complete, so an
    interrupted install never leaves a half-filled cache behind."""
    if _sdk_installed(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(scratch),
        SDK_REQUIREMENT,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        shutil.rmtree(scratch, ignore_errors=True)
        pytest.fail(f"Installing {SDK_REQUIREMENT} timed out (is PyPI reachable?)", pytrace=False)
    if done.returncode != 0 or not _sdk_installed(scratch):
        shutil.rmtree(scratch, ignore_errors=True)
        pytest.fail(
            f"Could not install the official SDK {SDK_REQUIREMENT} into {target} "
            f"(the interop tests need PyPI access).\n"
            f"command: {' '.join(command)}\nexit code: {done.returncode}\n"
            f"stderr:\n{done.stderr[-3000:]}",
            pytrace=False,
        )
    if _sdk_installed(target):  # another run finished first
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    return target


class SdkError(AssertionError):
    """The SDK function raised; ``error`` is the exception type, ``message`` its text."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message

    def server_error(self) -> dict[str, Any]:
        """The server's error envelope that the SDK quoted after ``"...failed: "``."""
        _, _, text = self.message.partition(": ")
        error: dict[str, Any] = json.loads(text)["error"]
        return error


@dataclass(frozen=True)
class Sdk:
    """Runs the official SDK in its own interpreter, one command per process."""

    folder: Path

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            # Nothing of this project's interpreter setup leaks in, and loopback calls are
            # never sent to a proxy.
            if not k.startswith("PYTHON") and k.lower() not in _PROXY_VARIABLES
        }
        env["PYTHONPATH"] = str(self.folder)
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        # -S: no site-packages of this virtualenv; -s: no user site; -P: not the script's folder.
        done = subprocess.run(
            [sys.executable, "-S", "-s", "-P", str(DRIVER), str(self.folder)],
            input=json.dumps(command),
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.folder,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (
            f"SDK driver crashed (exit {done.returncode}) on {command.get('op')}:\n"
            f"{done.stderr[-3000:]}"
        )
        outcome: dict[str, Any] = json.loads(done.stdout)
        return outcome

    def call(self, fn: str, bytes_kwargs: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """``openleash.<fn>(**kwargs)`` in the SDK; raises :class:`SdkError` if it raised.

        ``bytes_kwargs`` are text arguments the driver passes as UTF-8 bytes."""
        outcome = self.run(
            {"op": "call", "fn": fn, "kwargs": kwargs, "bytes_kwargs": bytes_kwargs or {}}
        )
        if not outcome["ok"]:
            raise SdkError(outcome["error"], outcome["message"])
        return outcome["result"]

    def sign_bytes(self, data_b64: str, private_key_b64: str) -> str:
        outcome = self.run(
            {"op": "sign_bytes", "data_b64": data_b64, "private_key_b64": private_key_b64}
        )
        assert outcome["ok"], outcome
        return str(outcome["result"])

    def environment(self) -> dict[str, Any]:
        outcome = self.run({"op": "environment"})
        assert outcome["ok"], outcome
        return outcome["result"]


_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


@dataclass(frozen=True)
class RegisteredAgent:
    agent_id: str
    agent_principal_id: str
    owner_id: str
    private_key_b64: str
    public_key_b64: str

    def action(self, action_type: str = "purchase", **payload: Any) -> dict[str, Any]:
        return action(self.agent_id, self.owner_id, action_type, **payload)


def new_agent_id(prefix: str = "interop-agent") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def webhook_fields(agent_id: str) -> dict[str, str]:
    """Distinct webhook settings per agent (webhook URLs are unique among agents)."""
    return {
        "webhook_url": f"http://127.0.0.1:9/hooks/{agent_id}",
        "webhook_secret": f"whsec-{uuid.uuid4().hex}",
        "webhook_auth_token": f"whtok-{uuid.uuid4().hex}",
    }


def enrol_agent(sdk: Sdk, deployment: Deployment, prefix: str = "interop-agent") -> dict[str, Any]:
    """A new agent of the deployment's owner, enrolled with the SDK through an invite: what
    ``redeem_agent_invite`` returns (its ids and keys)."""
    invite = deployment.agent_invite()
    agent_id = new_agent_id(prefix)
    enrolled: dict[str, Any] = sdk.call(
        "redeem_agent_invite",
        invite_url=invite["invite_url"],
        agent_id=agent_id,
        **webhook_fields(agent_id),
    )
    return enrolled


def fresh_request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request on a new connection (a new TCP connection may land on any worker)."""
    headers = {"Connection": "close", **kwargs.pop("headers", {})}
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        return client.request(method, url, headers=headers, **kwargs)
