"""The MCP gateway: an MCP server in front of another one that asks OpenLeash before every
``tools/call``.

The model's MCP client talks to the gateway as it would to the real (upstream) server. Each
tool call becomes an OpenLeash action (:mod:`openleash.integrations.mcp_config` says how) and
is authorized with the agent's key:

- ALLOW: the call goes upstream with the proof token in its ``_meta`` (:data:`PROOF_META`),
  next to the decision id and the action it proves, so the server can verify both.
- DENY: the tool is not run; the model gets a tool error saying why, in words it can act on.
- REQUIRE_APPROVAL (or REQUIRE_STEP_UP): an approval request goes to the owner and the call
  waits for the answer, a bounded time. Approved: the identical action is authorized again with
  the approval token and the call goes upstream. Still pending: the model is told so, with the
  request's id, and calling the tool again with the same arguments picks the wait up again.

Everything else (``tools/list``, resources, prompts, completions) passes through unchanged
(:mod:`openleash.integrations.mcp_proxy`). If OpenLeash cannot be asked, the tool is not run.

OpenLeash is asked through :class:`openleash.client.AsyncClient`, signed with the agent's key.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final, NotRequired, TypedDict

import anyio
import mcp_types as types

from openleash.client import (
    ActionRequest,
    ApiError,
    ApprovalRequest,
    AsyncClient,
    Decision,
    OpenLeashClientError,
    new_action,
)
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import ApprovalStatus, Result
from openleash.integrations.mcp_config import GatewayConfig

#: ``_meta`` keys of a forwarded ``tools/call``: the proof token (absent when the policy asks
#: for none), the decision it came from, and the action it proves (hash it to check the proof's
#: ``action_hash``; its payload holds the call's arguments).
PROOF_META: Final = "openleash/proof"
DECISION_META: Final = "openleash/decision_id"
ACTION_META: Final = "openleash/action"
#: ``_meta`` key of a result the gateway answers itself: what OpenLeash decided.
RESULT_META: Final = "openleash/decision"
#: Tool calls waiting for an approval that a repeated call can pick up; the oldest are dropped.
MAX_HELD = 256

ToolResult = types.CallToolResult | types.InputRequiredResult

#: The ``_meta`` entries an allowed call carries upstream (the keys above).
ProofMeta = TypedDict(
    "ProofMeta",
    {
        "openleash/decision_id": JsonValue,
        "openleash/action": Mapping[str, object],
        "openleash/proof": NotRequired[str],
    },
)
#: Sends the call upstream with these extra ``_meta`` entries.
Forward = Callable[[ProofMeta], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class _Held:
    """An action the owner was asked to approve, kept for a repeated identical call."""

    key: str
    tool: str
    action: ActionRequest
    decision: Decision
    approval_request_id: str


class Gateway:
    """The decision flow of one tool call; it knows OpenLeash and MCP results, not transports."""

    def __init__(self, config: GatewayConfig, client: AsyncClient, server: str) -> None:
        self.config = config
        self.client = client
        self.server = server
        self._held: OrderedDict[str, _Held] = OrderedDict()

    async def call_tool(
        self, tool: str, arguments: Mapping[str, JsonValue] | None, forward: Forward
    ) -> ToolResult:
        """Authorize a call of ``tool`` with ``arguments`` (the model's, as MCP carries them),
        then ``forward`` it or answer why not."""
        args: JsonObject = dict(arguments or {})
        key = _call_key(tool, args)
        try:
            held = self._held.pop(key, None)
            if held is not None:
                return await self._after_approval(held, forward)
            action = await self.action(tool, args)
            decision = await self.client.authorize(action)
            return await self._follow(key, tool, action, decision, forward)
        except OpenLeashClientError as exc:
            return _not_asked(tool, exc)

    async def action(self, tool: str, arguments: Mapping[str, JsonValue]) -> ActionRequest:
        """The OpenLeash action of a call: the arguments as payload, plus the mapped fields."""
        mapping = self.config.tool(tool)
        payload: JsonObject = dict(arguments)
        relying_party: JsonObject = {}
        if mapping.amount and mapping.amount in arguments:
            payload["amount_minor"] = arguments[mapping.amount]
        currency = arguments.get(mapping.currency) if mapping.currency else None
        if currency is None:
            currency = mapping.default_currency
        if currency is not None:
            payload["currency"] = currency
        party = arguments.get(mapping.counterparty) if mapping.counterparty else None
        if isinstance(party, str) and party:
            where, _, key = mapping.counterparty_field.partition(".")
            (relying_party if where == "relying_party" else payload)[key] = party
        return new_action(
            self.client.agent_id,
            await self.client.owner_id(),
            self.config.action_type(self.server, tool),
            payload,
            relying_party=relying_party or None,
        )

    async def _follow(
        self,
        key: str,
        tool: str,
        action: ActionRequest,
        decision: Decision,
        forward: Forward,
    ) -> ToolResult:
        match decision.result:
            case Result.ALLOW:
                return await forward(proof_meta(decision, action))
            case Result.REQUIRE_APPROVAL | Result.REQUIRE_STEP_UP:
                justification = self.config.tool(tool).justification or (
                    f"The agent called the tool `{tool}` of the MCP server `{self.server}`."
                )
                filed = await self.client.create_approval_request(
                    decision.decision_id, action, justification
                )
                return await self._after_approval(
                    _Held(key, tool, action, decision, filed.approval_request_id), forward
                )
            case _:
                return _denied(tool, decision)  # DENY, and anything unknown: fail closed

    async def _after_approval(self, held: _Held, forward: Forward) -> ToolResult:
        try:
            status = await self._wait(held.approval_request_id)
        except OpenLeashClientError as exc:
            if _refused(exc) is None:
                self._hold(held)  # the request stands: a repeated call asks about it again
            raise
        token = status.approval_token
        match status.status:
            case ApprovalStatus.APPROVED if token is not None:
                decision = await self.client.authorize(held.action, approval_token=token)
                if decision.allowed:
                    return await forward(proof_meta(decision, held.action))
                return _denied(held.tool, decision)
            case ApprovalStatus.PENDING:
                self._hold(held)
                return _pending(held, self.config.approval_wait_seconds)
            case ApprovalStatus.DENIED:
                return _owner_denied(held, status)
            case _:
                return _expired(held, status)

    def _hold(self, held: _Held) -> None:
        self._held[held.key] = held
        while len(self._held) > MAX_HELD:
            self._held.popitem(last=False)

    async def _wait(self, approval_request_id: str) -> ApprovalRequest:
        """The request's status once it is no longer pending, or when the wait is over."""
        deadline = time.monotonic() + self.config.approval_wait_seconds
        while True:
            status = await self.client.get_approval_request(approval_request_id)
            remaining = deadline - time.monotonic()
            if not status.pending or remaining <= 0:
                return status
            await anyio.sleep(min(self.config.approval_poll_seconds, remaining))


def proof_meta(decision: Mapping[str, JsonValue], action: Mapping[str, object]) -> ProofMeta:
    """The ``_meta`` entries an allowed call carries upstream."""
    meta: ProofMeta = {DECISION_META: decision.get("decision_id"), ACTION_META: action}
    token = decision.get("proof_token")
    if isinstance(token, str) and token:
        meta[PROOF_META] = token
    return meta


def _call_key(tool: str, arguments: Mapping[str, JsonValue]) -> str:
    return json.dumps([tool, arguments], sort_keys=True, separators=(",", ":"), default=str)


# -- what the model reads when the tool was not run -----------------------------------------------


def _refusal(text: str, decision: Decision | None = None) -> types.CallToolResult:
    meta: JsonObject | None = None
    if decision is not None:
        meta = {
            RESULT_META: {
                key: decision.get(key)
                for key in ("result", "decision_id", "reason", "explanation", "matched_rule_id")
            }
        }
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True, _meta=meta)


def _denied(tool: str, decision: Decision) -> types.CallToolResult:
    lines = [
        f"OpenLeash denied this call to `{tool}`; the tool was not run.",
        f"Reason: {decision.reason or 'not allowed by the policy'}",
    ]
    if decision.explanation:
        lines.append(f"Explanation: {decision.explanation}")
    lines.append(
        "Do not repeat the same call: change what you ask for, or ask the user how to proceed."
    )
    lines.append(f"(decision {decision.decision_id})")
    return _refusal("\n".join(lines), decision)


def _pending(held: _Held, waited: float) -> types.CallToolResult:
    reason = held.decision.reason or "the policy asks the owner to approve it"
    text = (
        f"This call to `{held.tool}` needs the owner's approval ({reason}). An approval request "
        f"was sent (approval_request_id: {held.approval_request_id}) and is still pending after "
        f"{waited:g} seconds, so the tool was not run. Tell the user it awaits their approval; "
        f"once they approve, call `{held.tool}` again with exactly the same arguments and it "
        "will run."
    )
    return _refusal(text, held.decision)


def _owner_denied(held: _Held, status: ApprovalRequest) -> types.CallToolResult:
    why = f": {status.denial_reason}" if status.denial_reason else ""
    text = (
        f"The owner denied this call to `{held.tool}` (approval request "
        f"{held.approval_request_id}){why}. The tool was not run. Do not repeat it; ask the user "
        "what to do instead."
    )
    return _refusal(text, held.decision)


def _expired(held: _Held, status: ApprovalRequest) -> types.CallToolResult:
    text = (
        f"The approval request {held.approval_request_id} for this call to `{held.tool}` is "
        f"{status.status or 'no longer pending'} without an approval; the tool was not "
        "run. Calling the tool again asks the owner anew."
    )
    return _refusal(text, held.decision)


def _refused(error: OpenLeashClientError) -> ApiError | None:
    """The server's refusal (its error envelope), or ``None`` when OpenLeash could not be
    reached or answered without a decision: then asking again later may work."""
    return error if isinstance(error, ApiError) and error.code != "HTTP_ERROR" else None


def _not_asked(tool: str, error: OpenLeashClientError) -> types.CallToolResult:
    refused = _refused(error)
    if refused is not None:
        text = (
            f"OpenLeash refused to authorize this call to `{tool}` ({refused.code}: "
            f"{refused.message}); the tool was not run."
        )
    else:
        why = (
            f"OpenLeash answered HTTP {error.status} without a decision"
            if isinstance(error, ApiError)
            else str(error)
        )
        text = (
            f"OpenLeash, which must authorize this call to `{tool}`, could not be asked ({why}); "
            "the tool was not run. Try again later."
        )
    return _refusal(text)
