"""Run one call of the official OpenLeash Python SDK and print its outcome as JSON.

Usage: ``python -S -P sdk_driver.py SDK_DIR`` with ``PYTHONPATH=SDK_DIR`` and a JSON command on
stdin. The SDK imports as ``openleash``, like this project's package, so this script runs in its
own interpreter that can only see the standard library and ``SDK_DIR``; it checks that before
doing anything else.

Commands (stdin):

- ``{"op": "environment"}``: where ``openleash`` was imported from, its version, ``sys.path``.
- ``{"op": "call", "fn": NAME, "kwargs": {...}}``: call ``openleash.NAME(**kwargs)`` (awaited if
  it is a coroutine function). An optional ``"bytes_kwargs": {NAME: TEXT}`` passes TEXT as
  UTF-8 bytes (e.g. ``body_bytes`` of ``sign_request``).
- ``{"op": "sign_bytes", "data_b64": ..., "private_key_b64": ...}``: Ed25519 signature (base64)
  of raw bytes with an SDK-generated private key, as an agent signs a registration challenge.

Output (stdout): ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": TYPE,
"message": TEXT}`` when the SDK raised.

Only the standard library and the SDK (with its own dependencies) are used here.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any


def _check_isolation(sdk_dir: Path) -> Any:
    import openleash

    location = Path(openleash.__file__).resolve()
    if not location.is_relative_to(sdk_dir):
        raise SystemExit(f"openleash imported from {location}, not from the SDK folder {sdk_dir}")
    # The server package has an ``api`` subpackage; the SDK does not.
    if importlib.util.find_spec("openleash.api") is not None:
        raise SystemExit("the server package is importable next to the SDK")
    return openleash


def _sign_bytes(data_b64: str, private_key_b64: str) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    key = load_der_private_key(base64.b64decode(private_key_b64), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("not an Ed25519 private key")
    return base64.b64encode(key.sign(base64.b64decode(data_b64))).decode()


def _run(sdk: Any, command: dict[str, Any]) -> Any:
    op = command["op"]
    if op == "environment":
        return {
            "file": sdk.__file__,
            "version": getattr(sdk, "__version__", None),
            "functions": sorted(getattr(sdk, "__all__", [])),
            "sys_path": sys.path,
        }
    if op == "sign_bytes":
        return _sign_bytes(command["data_b64"], command["private_key_b64"])
    if op == "call":
        fn = getattr(sdk, command["fn"])
        kwargs = dict(command.get("kwargs") or {})
        for name, text in (command.get("bytes_kwargs") or {}).items():
            kwargs[name] = text.encode("utf-8")
        if inspect.iscoroutinefunction(fn):
            return asyncio.run(fn(**kwargs))
        return fn(**kwargs)
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    sdk_dir = Path(sys.argv[1]).resolve()
    sdk = _check_isolation(sdk_dir)
    command = json.loads(sys.stdin.read())
    try:
        outcome: dict[str, Any] = {"ok": True, "result": _run(sdk, command)}
    except Exception as exc:  # the SDK's own failures are results the tests inspect
        outcome = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    sys.stdout.write(json.dumps(outcome))


if __name__ == "__main__":
    main()
