"""Prometheus metrics at ``/metrics``: decisions by result, ``/v1/authorize`` latency, errors.

With several worker processes every worker writes its numbers to files in one folder
(``PROMETHEUS_MULTIPROC_DIR``, set by ``openleash start`` under the data folder and emptied at
each start) and a scrape of any worker adds them up.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.admin import require_admin
from openleash.api.wire.common import ADMIN, operation

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

DECISIONS = Counter(
    "openleash_decisions", "Decisions of /v1/authorize, by result.", ["result", "via_approval"]
)
REFUSALS = Counter(
    "openleash_authorize_refusals", "Requests to /v1/authorize refused with an error.", ["code"]
)
STORE_ERRORS = Counter(
    "openleash_store_errors", "Requests that failed because the store failed or was unreachable."
)
PROOF_CHECKS = Counter(
    "openleash_proof_verifications",
    "Calls of /v1/verify-proof, by verdict (counted here, not audited: anyone may call it).",
    ["valid"],
)
LATENCY = Histogram(
    "openleash_authorize_seconds",
    "Time to answer POST /v1/authorize, from its first byte read to the response.",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

router = APIRouter(tags=["operations"])


def render() -> bytes:
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _text_operation() -> dict[str, Any]:
    """The 200 is Prometheus text, the refusals the JSON error envelope. The plain Response
    class names no media type, so the framework adds none to the 200 and gives the error
    models theirs (JSON)."""
    spec = operation(ok=None, errors=(401,), security=ADMIN, ok_description="Prometheus metrics")
    spec["responses"][200]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return {**spec, "response_class": Response}


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin access)",
    description="The Prometheus text exposition format (`text/plain; version=0.0.4`).",
    dependencies=[Depends(require_admin)],
    **_text_operation(),
)
async def metrics(request: Request) -> Response:
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
