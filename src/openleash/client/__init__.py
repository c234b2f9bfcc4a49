"""The agent and counterparty SDK: signed requests over every agent endpoint, typed results,
a guard that authorizes tool calls before they run, and offline proof verification.

The LangChain adapter lives in :mod:`openleash.integrations.langchain` (``openleash[langchain]``);
the counterparty's verifier, middleware and FastAPI dependency in :mod:`openleash.verify`.
"""

from openleash.client.actions import (
    ACTION_HEADER,
    PROOF_HEADER,
    ActionRequest,
    bind_request,
    compute_action_hash,
    new_action,
    proof_headers,
    request_sha256,
)
from openleash.client.auth import AgentAuth
from openleash.client.client import AsyncClient, Client
from openleash.client.errors import (
    ActionDenied,
    ApiError,
    ApprovalDenied,
    ApprovalRequired,
    ApprovalTimeout,
    OpenLeashClientError,
    StepUpRequired,
    TransportError,
)
from openleash.client.guards import (
    Authorization,
    Guard,
    current_authorization,
    current_proof,
    guard,
)
from openleash.client.keys import PublicKeyCache, PublicKeyRecord, verify_proof_offline
from openleash.client.models import (
    AgentInfo,
    ApprovalRequest,
    Decision,
    DecisionApproval,
    LimitUsage,
    Obligation,
    PolicyDraft,
    PublicKey,
    Result,
    Usage,
    UsageRow,
)

__all__ = [
    "ACTION_HEADER",
    "PROOF_HEADER",
    "ActionDenied",
    "ActionRequest",
    "AgentAuth",
    "AgentInfo",
    "ApiError",
    "ApprovalDenied",
    "ApprovalRequest",
    "ApprovalRequired",
    "ApprovalTimeout",
    "AsyncClient",
    "Authorization",
    "Client",
    "Decision",
    "DecisionApproval",
    "Guard",
    "LimitUsage",
    "Obligation",
    "OpenLeashClientError",
    "PolicyDraft",
    "PublicKey",
    "PublicKeyCache",
    "PublicKeyRecord",
    "Result",
    "StepUpRequired",
    "TransportError",
    "Usage",
    "UsageRow",
    "bind_request",
    "compute_action_hash",
    "current_authorization",
    "current_proof",
    "guard",
    "new_action",
    "proof_headers",
    "request_sha256",
    "verify_proof_offline",
]
