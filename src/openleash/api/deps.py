"""Access to the services of the running application, for the routers."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from openleash.bootstrap import Services


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)
