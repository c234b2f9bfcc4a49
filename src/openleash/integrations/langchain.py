"""LangChain tools that ask OpenLeash before they run (``pip install 'openleash[langchain]'``).

``guarded_tool(tool, client, action_type="purchase", payload=...)`` returns a tool with the
same name, description and arguments as ``tool``; each invocation is authorized first, as
:class:`~openleash.client.Guard` does, and the wrapped tool reads the proof with
:func:`~openleash.client.current_proof`.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import ConfigDict

from openleash.client.client import AsyncClient, Client
from openleash.client.errors import ActionDenied, ApprovalRequired, ApprovalTimeout
from openleash.client.guards import (
    Authorization,
    Guard,
    JustificationSpec,
    PayloadSpec,
    RelyingPartySpec,
    authorization_scope,
)

__all__ = ["GuardedTool", "guarded_tool"]

#: What a guarded tool reports to the model, instead of raising, when ``tell_model=True``.
_REFUSALS = (ActionDenied, ApprovalRequired, ApprovalTimeout)


class GuardedTool(BaseTool):
    """A tool whose every invocation is authorized by ``guard`` before ``tool`` runs."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tool: BaseTool
    guard: Guard
    tell_model: bool = False

    def _authorize(self, args: tuple[object, ...], kwargs: Mapping[str, object]) -> Authorization:
        """Authorize one invocation. Its arguments are the tool's input as its args schema
        read it (dates, nested models, ...): Python objects, not the model's JSON."""
        try:
            return self.guard.authorize(*args, **kwargs)
        except _REFUSALS as exc:
            if self.tell_model:
                raise ToolException(f"Not authorized: {exc}") from exc
            raise

    async def _aauthorize(
        self, args: tuple[object, ...], kwargs: Mapping[str, object]
    ) -> Authorization:
        try:
            return await self.guard.aauthorize(*args, **kwargs)
        except _REFUSALS as exc:
            if self.tell_model:
                raise ToolException(f"Not authorized: {exc}") from exc
            raise

    def _run(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        if isinstance(self.guard.client, AsyncClient):
            raise NotImplementedError("a tool guarded with an AsyncClient runs asynchronously")
        authorization = self._authorize(args, kwargs)
        with authorization_scope(authorization):
            extra = _extras(self.tool._run, config, run_manager)
            return self.tool._run(*args, **kwargs, **extra)

    async def _arun(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        authorization = await self._aauthorize(args, kwargs)
        with authorization_scope(authorization):
            extra = _extras(self.tool._arun, config, run_manager)
            return await self.tool._arun(*args, **kwargs, **extra)


def _extras(
    method: Callable[..., object],
    config: RunnableConfig,
    run_manager: CallbackManagerForToolRun | AsyncCallbackManagerForToolRun | None,
) -> dict[str, object]:
    """The ``run_manager`` and config arguments ``method`` takes, as LangChain would pass them."""
    parameters = inspect.signature(method).parameters
    extra: dict[str, object] = {}
    if "run_manager" in parameters:
        extra["run_manager"] = run_manager
    for name, hint in _hints(method).items():
        if hint is RunnableConfig and name in parameters:
            extra[name] = config
    return extra


def _hints(method: Callable[..., object]) -> dict[str, object]:
    try:
        return typing.get_type_hints(method)
    except (NameError, TypeError):
        return {}  # annotations that do not resolve name no RunnableConfig we could pass


def guarded_tool(
    tool: BaseTool,
    client: Client | AsyncClient,
    *,
    action_type: str,
    payload: PayloadSpec | None = None,
    relying_party: RelyingPartySpec | None = None,
    justification: JustificationSpec | None = None,
    tell_model: bool = False,
    **guard_options: Any,
) -> GuardedTool:
    """``tool``, authorized as an ``action_type`` action before each invocation.

    ``payload`` (a mapping, or a function of the tool's arguments returning one; by default
    the arguments themselves), ``relying_party``, ``justification`` and the remaining options
    (``on_approval``, ``approval_timeout``, ...) are those of :class:`~openleash.client.Guard`.
    A refusal raises (:class:`~openleash.client.ActionDenied`, ...); with ``tell_model=True``
    it becomes the tool's error output instead, so the model reads why and can adapt.
    """
    guard = Guard(
        client,
        action_type,
        payload=payload,
        relying_party=relying_party,
        justification=justification,
        **guard_options,
    )
    return GuardedTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema if tool.args_schema is not None else tool.get_input_schema(),
        return_direct=tool.return_direct,
        response_format=tool.response_format,
        handle_tool_error=True if tell_model else tool.handle_tool_error,
        handle_validation_error=tool.handle_validation_error,
        tags=tool.tags,
        metadata=tool.metadata,
        tool=tool,
        guard=guard,
        tell_model=tell_model,
    )
