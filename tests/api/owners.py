"""Owner sessions for API tests: set a passphrase with a setup invite, log in, enrol TOTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openleash.crypto import totp
from tests.api.conftest import Api
from tests.support import owners

PASSPHRASE = "correct horse battery staple"


@dataclass
class Owner:
    api: Api
    owner_id: str
    token: str
    csrf_token: str
    totp_secret: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> Any:
        return self.api.client.get(path, headers=self.headers())

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.api.client.post(
            path, json=body if body is not None else {}, headers=self.headers()
        )

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self.api.client.put(path, json=body, headers=self.headers())

    def delete(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.api.client.request(
            "DELETE", path, json=body if body is not None else {}, headers=self.headers()
        )

    def code(self, *, advance: bool = True) -> str:
        """A TOTP code; fresh (the clock moves on a step first) unless ``advance`` is False."""
        assert self.totp_secret is not None
        if advance:
            self.api.clock.advance(30)
        return totp.code_at(self.totp_secret, totp.counter_at(self.api.clock().timestamp()))

    def enable_totp(self) -> list[str]:
        setup = self.post("/v1/owner/totp/setup")
        assert setup.status_code == 200, setup.text
        self.totp_secret = setup.json()["secret"]
        confirmed = self.post("/v1/owner/totp/confirm", {"code": self.code()})
        assert confirmed.status_code == 200, confirmed.text
        codes: list[str] = confirmed.json()["backup_codes"]
        return codes


def set_passphrase(api: Api, owner_id: str, passphrase: str = PASSPHRASE) -> Any:
    return owners.set_passphrase(api.client, owner_id, passphrase)


def login(api: Api, owner_id: str, passphrase: str = PASSPHRASE, **extra: Any) -> Any:
    return owners.log_in(api.client, owner_id, passphrase, **extra)


def owner_session(api: Api, owner_id: str | None = None) -> Owner:
    owner_id = owner_id or api.agent.owner_id
    body = owners.signed_in(api.client, owner_id, PASSPHRASE)
    api.client.cookies.clear()  # tests authenticate by bearer token unless they say otherwise
    return Owner(api, owner_id, body["token"], body["csrf_token"])
