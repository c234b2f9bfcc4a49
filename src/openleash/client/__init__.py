"""The agent and counterparty SDK: signed requests, authorize, offline proof verification."""

from openleash.client.auth import AgentAuth
from openleash.client.client import AsyncClient, Client, OpenLeashClientError
from openleash.client.keys import PublicKeyCache, verify_proof_offline

__all__ = [
    "AgentAuth",
    "AsyncClient",
    "Client",
    "OpenLeashClientError",
    "PublicKeyCache",
    "verify_proof_offline",
]
