"""OpenLeash: per-action authorization for AI agents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from openleash.engine import Engine

__all__ = ["Engine", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: ``import openleash.client`` stays light for agents.
    if name == "Engine":
        from openleash.engine import Engine

        return Engine
    raise AttributeError(f"module 'openleash' has no attribute {name!r}")
