"""Outgoing webhooks: signatures receivers can check, the SSRF guard, and retries with backoff.

The delivery tests post to a real HTTP receiver on 127.0.0.1 (so they allow private targets);
the guard tests inject a resolver, so no DNS is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from openleash.api.errors import status_of
from openleash.crypto import NotVerifiedError
from openleash.domain.errors import OpenLeashError
from openleash.service import webhooks as wh
from openleash.service.webhooks import Deliverer, Delivery, WebhookTargetRefused

SECRET = "whsec-test-secret-0123456789"
TOKEN = "bearer-token-abcdef"
NOW = 1_764_000_000


def _verifies(*args: Any, **kwargs: Any) -> bool:
    """Whether the receiver's check passes (it raises NotVerifiedError when it does not)."""
    try:
        wh.verify_signature(*args, **kwargs)
    except NotVerifiedError:
        return False
    return True


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


# --- a real receiver on loopback -----------------------------------------------------------


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1 answering with the given statuses in turn."""

    statuses: list[int]
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def url(self, path: str = "/hooks/in") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        method, target, _ = request_line.split(" ")
        headers: dict[str, str] = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(method, target, headers, body))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        extra = "Location: http://127.0.0.1:9/elsewhere\r\n" if 300 <= status < 400 else ""
        writer.write(
            f"HTTP/1.1 {status} Status\r\nContent-Length: 2\r\n{extra}"
            "Connection: close\r\n\r\nok".encode("ascii")
        )
        await writer.drain()
        writer.close()


class Sleeps:
    """Stands in for asyncio.sleep and records the backoff delays."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Clock:
    def __init__(self, start: float = NOW) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 7  # every reading is a bit later, as across retries
        return self.now


def make_delivery(url: str, **overrides: Any) -> Delivery:
    body = wh.webhook_body(
        "approval_request.approved",
        "2025-11-24T16:00:00.000Z",
        "agent-principal-1",
        {"approval_request_id": "ar-1", "status": "APPROVED", "approval_token": "v4.public.x"},
    )
    fields: dict[str, Any] = {
        "delivery_id": "dlv-1",
        "url": url,
        "secret": SECRET,
        "auth_token": TOKEN,
        "event_type": "approval_request.approved",
        "body": body,
    }
    fields.update(overrides)
    return Delivery(**fields)


class FakeResolver:
    """Gives each answer in turn (the last one repeats) and records the queries."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self._answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]


def resolver(*answers: Sequence[str]) -> FakeResolver:
    return FakeResolver(*answers)


async def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"no lookup expected for {host}")


# --- delivery to the real receiver ---------------------------------------------------------


def test_delivery_reaches_a_real_receiver_with_a_signature_it_can_verify() -> None:
    async def scenario() -> tuple[wh.DeliveryOutcome, list[Received], float]:
        clock = Clock()
        async with (
            Receiver([200]) as receiver,
            Deliverer(allow_private=True, clock=clock) as deliverer,
        ):
            outcome = await deliverer.deliver(make_delivery(receiver.url("/hooks/in?x=1")))
        return outcome, receiver.requests, clock.now

    outcome, requests, sent_at = run(scenario())
    assert outcome == wh.DeliveryOutcome(True, 200, None, 1, False)
    assert len(requests) == 1
    request = requests[0]
    delivery = make_delivery("unused")
    assert request.method == "POST"
    assert request.target == "/hooks/in?x=1"
    assert request.body == delivery.body
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-openleash-event"] == "approval_request.approved"
    assert headers["x-openleash-delivery"] == "dlv-1"
    signature = headers["x-openleash-signature"]
    assert signature.startswith(f"t={int(sent_at)},v1=")
    assert _verifies(SECRET, signature, request.body, now_s=sent_at + 1)
    assert not _verifies("another secret", signature, request.body, now_s=sent_at)
    legacy = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == legacy


def test_the_request_goes_to_the_checked_address_with_the_original_host_header() -> None:
    # hooks.example has no DNS entry: the request can only arrive through the checked address.
    resolve = resolver(["127.0.0.1"])

    async def scenario() -> tuple[wh.DeliveryOutcome, list[Received], int]:
        async with (
            Receiver([204]) as receiver,
            Deliverer(allow_private=True, resolve=resolve) as deliverer,
        ):
            url = f"http://hooks.example:{receiver.port}/in"
            outcome = await deliverer.deliver(make_delivery(url))
        return outcome, receiver.requests, receiver.port

    outcome, requests, port = run(scenario())
    assert outcome.delivered
    assert outcome.status_code == 204
    assert resolve.calls == [("hooks.example", port)]
    assert requests[0].headers["host"] == f"hooks.example:{port}"
    assert requests[0].target == "/in"


def test_transient_failures_are_retried_with_exponential_backoff() -> None:
    sleeps = Sleeps()

    async def scenario() -> tuple[wh.DeliveryOutcome, list[Received]]:
        async with (
            Receiver([503, 503, 200]) as receiver,
            Deliverer(allow_private=True, sleep=sleeps, clock=Clock(), base_delay=1.0) as deliverer,
        ):
            return await deliverer.deliver(make_delivery(receiver.url())), receiver.requests

    outcome, requests = run(scenario())
    assert outcome.delivered
    assert outcome.status_code == 200
    assert outcome.attempts == 3
    assert not outcome.gave_up
    assert len(requests) == 3
    assert len(sleeps.delays) == 2
    assert 0.5 <= sleeps.delays[0] <= 1.0
    assert 1.0 <= sleeps.delays[1] <= 2.0
    # Same delivery id every time (receivers dedupe on it), a fresh signature each attempt.
    assert {r.headers["x-openleash-delivery"] for r in requests} == {"dlv-1"}
    signatures = [r.headers["x-openleash-signature"] for r in requests]
    assert len(set(signatures)) == 3


@pytest.mark.parametrize("status", [408, 429, 500, 502, 599])
def test_timeouts_rate_limits_and_server_errors_are_retried(status: int) -> None:
    sleeps = Sleeps()

    async def scenario() -> wh.DeliveryOutcome:
        async with (
            Receiver([status, 200]) as receiver,
            Deliverer(allow_private=True, sleep=sleeps) as deliverer,
        ):
            return await deliverer.deliver(make_delivery(receiver.url()))

    outcome = run(scenario())
    assert outcome.delivered
    assert outcome.attempts == 2
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    sleeps = Sleeps()

    async def scenario() -> tuple[wh.DeliveryOutcome, list[Received]]:
        async with (
            Receiver([status, 200]) as receiver,
            Deliverer(allow_private=True, sleep=sleeps) as deliverer,
        ):
            return await deliverer.deliver(make_delivery(receiver.url())), receiver.requests

    outcome, requests = run(scenario())
    assert outcome == wh.DeliveryOutcome(False, status, f"HTTP {status}", 1, True)
    assert len(requests) == 1
    assert sleeps.delays == []


def test_redirects_are_not_followed() -> None:
    async def scenario() -> tuple[wh.DeliveryOutcome, list[Received]]:
        async with (
            Receiver([302]) as receiver,
            Deliverer(allow_private=True, sleep=Sleeps()) as deliverer,
        ):
            return await deliverer.deliver(make_delivery(receiver.url())), receiver.requests

    outcome, requests = run(scenario())
    assert not outcome.delivered
    assert outcome.status_code == 302
    assert outcome.gave_up
    assert len(requests) == 1


def test_gives_up_after_max_attempts() -> None:
    sleeps = Sleeps()

    async def scenario() -> tuple[wh.DeliveryOutcome, list[Received]]:
        async with (
            Receiver([500]) as receiver,
            Deliverer(
                allow_private=True, sleep=sleeps, max_attempts=4, base_delay=2.0, jitter=lambda: 1.0
            ) as deliverer,
        ):
            return await deliverer.deliver(make_delivery(receiver.url())), receiver.requests

    outcome, requests = run(scenario())
    assert outcome == wh.DeliveryOutcome(False, 500, "HTTP 500", 4, True)
    assert len(requests) == 4
    assert sleeps.delays == [2.0, 4.0, 8.0]


def test_connection_failures_are_retried_then_given_up() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    sleeps = Sleeps()
    deliverer = Deliverer(allow_private=True, sleep=sleeps, max_attempts=3)
    outcome = run(deliverer.deliver(make_delivery(f"http://127.0.0.1:{closed_port}/")))
    run(deliverer.aclose())
    assert not outcome.delivered
    assert outcome.gave_up
    assert outcome.attempts == 3
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "ConnectError" in outcome.error
    assert len(sleeps.delays) == 2


def test_a_slow_receiver_times_out_and_is_retried() -> None:
    async def hang(url: str, headers: dict[str, str], body: bytes) -> int:
        await asyncio.sleep(30)
        return 200

    sleeps = Sleeps()
    deliverer = Deliverer(
        send=hang, allow_private=True, sleep=sleeps, timeout_s=0.05, max_attempts=2
    )
    outcome = run(deliverer.deliver(make_delivery("http://127.0.0.1:1/")))
    assert outcome.attempts == 2
    assert outcome.gave_up
    assert outcome.error is not None
    assert "timed out" in outcome.error
    assert len(sleeps.delays) == 1


# --- backoff -------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_jitters_into_the_upper_half() -> None:
    top = Deliverer(base_delay=1.0, max_delay=10.0, jitter=lambda: 1.0)
    assert [top.retry_delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    bottom = Deliverer(base_delay=1.0, max_delay=10.0, jitter=lambda: 0.0)
    assert [bottom.retry_delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert top.retry_delay(10_000) == 10.0  # no overflow for absurd attempt counts


def test_default_jitter_varies_and_stays_within_bounds() -> None:
    deliverer = Deliverer(base_delay=4.0, max_delay=300.0)
    delays = {deliverer.retry_delay(2) for _ in range(50)}
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(delays) > 1


def test_attempt_tells_an_outbox_when_to_retry() -> None:
    async def unavailable(url: str, headers: dict[str, str], body: bytes) -> int:
        return 503

    deliverer = Deliverer(send=unavailable, allow_private=True, jitter=lambda: 1.0)
    first = run(deliverer.attempt(make_delivery("http://127.0.0.1/")))
    assert first == wh.DeliveryOutcome(False, 503, "HTTP 503", 1, False, retry_after_s=1.0)
    later = run(deliverer.attempt(make_delivery("http://127.0.0.1/", attempts_made=2)))
    assert later.attempts == 3
    assert later.retry_after_s == 4.0


def test_deliver_resumes_from_attempts_already_made() -> None:
    calls: list[str] = []

    async def unavailable(url: str, headers: dict[str, str], body: bytes) -> int:
        calls.append(url)
        return 503

    deliverer = Deliverer(send=unavailable, allow_private=True, sleep=Sleeps(), max_attempts=6)
    outcome = run(deliverer.deliver(make_delivery("http://127.0.0.1/", attempts_made=5)))
    assert outcome.attempts == 6
    assert outcome.gave_up
    assert len(calls) == 1
    exhausted = run(deliverer.deliver(make_delivery("http://127.0.0.1/", attempts_made=6)))
    assert exhausted.gave_up
    assert exhausted.attempts == 6
    assert len(calls) == 1


def test_deliverer_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        Deliverer(max_attempts=0)
    with pytest.raises(ValueError):
        Deliverer(timeout_s=0)
    with pytest.raises(ValueError):
        Deliverer(base_delay=-1)


# --- the SSRF guard ------------------------------------------------------------------------

FORBIDDEN = [
    ("127.0.0.1", "loopback"),
    ("127.1.2.3", "loopback"),
    ("169.254.169.254", "link-local"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("100.64.0.1", "non-global"),  # carrier-grade NAT
    ("240.0.0.1", "reserved"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "IPv4-embedding loopback"),
    ("::ffff:169.254.169.254", "IPv4-embedding link-local"),
    ("::ffff:10.1.2.3", "IPv4-embedding private"),
    ("64:ff9b::a00:1", "IPv4-embedding private"),  # NAT64 of 10.0.0.1
    ("2002:7f00:1::1", "IPv4-embedding loopback"),  # 6to4 of 127.0.0.1
]
PUBLIC = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34", "8.8.8.8"]


@pytest.mark.parametrize(("address", "kind"), FORBIDDEN)
def test_internal_addresses_are_refused_unless_private_targets_are_allowed(
    address: str, kind: str
) -> None:
    resolve = resolver([address])
    with pytest.raises(WebhookTargetRefused) as exc:
        run(wh.check_target("https://hooks.example/in", allow_private=False, resolve=resolve))
    assert exc.value.reason == f"webhook host hooks.example resolves to a {kind} address"
    assert exc.value.code == "INVALID_WEBHOOK_URL"
    assert resolve.calls == [("hooks.example", 443)]
    run(wh.check_target("https://hooks.example/in", allow_private=True, resolve=resolve))


@pytest.mark.parametrize(("address", "kind"), FORBIDDEN)
def test_internal_ip_literals_are_refused_without_a_lookup(address: str, kind: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(WebhookTargetRefused) as exc:
        run(wh.check_target(f"http://{host}:8080/x", allow_private=False, resolve=no_dns))
    assert kind in exc.value.reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    run(wh.check_target("http://hooks.example/", allow_private=False, resolve=resolver([address])))
    assert wh.forbidden_address_kind(ipaddress.ip_address(address)) is None


def test_one_internal_address_among_public_ones_is_enough_to_refuse() -> None:
    resolve = resolver(["93.184.216.34", "8.8.8.8", "169.254.169.254"])
    with pytest.raises(WebhookTargetRefused, match="link-local"):
        run(wh.check_target("http://hooks.example/", allow_private=False, resolve=resolve))


def test_localhost_is_refused_through_the_real_resolver() -> None:
    with pytest.raises(WebhookTargetRefused, match="loopback"):
        run(wh.check_target("http://localhost:8080/", allow_private=False))


def test_a_failed_lookup_is_a_network_error_not_a_refusal() -> None:
    async def failing(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(OSError):
        run(wh.check_target("http://hooks.example/", allow_private=False, resolve=failing))
    with pytest.raises(OSError):
        run(wh.check_target("http://hooks.example/", allow_private=False, resolve=resolver([])))


def test_refused_targets_are_never_contacted_nor_retried() -> None:
    sent: list[str] = []

    async def send(url: str, headers: dict[str, str], body: bytes) -> int:
        sent.append(url)
        return 200

    sleeps = Sleeps()
    deliverer = Deliverer(send=send, sleep=sleeps, resolve=resolver(["169.254.169.254"]))
    outcome = run(deliverer.deliver(make_delivery("http://metadata.example/latest/")))
    assert outcome.delivered is False
    assert outcome.gave_up is True
    assert outcome.attempts == 1
    assert (
        outcome.error == "refused: webhook host metadata.example resolves to a link-local address"
    )
    assert sent == []
    assert sleeps.delays == []


def test_the_target_is_checked_again_on_every_attempt() -> None:
    # DNS rebinding: public at first, then the host is pointed at loopback.
    sent: list[tuple[str, str]] = []

    async def send(url: str, headers: dict[str, str], body: bytes) -> int:
        sent.append((url, headers["Host"]))
        return 503

    resolve = resolver(["93.184.216.34"], ["127.0.0.1"])
    deliverer = Deliverer(send=send, sleep=Sleeps(), resolve=resolve)
    outcome = run(deliverer.deliver(make_delivery("http://hooks.example/in?a=1")))
    assert sent == [("http://93.184.216.34:80/in?a=1", "hooks.example")]
    assert outcome.attempts == 2
    assert outcome.gave_up
    assert outcome.error is not None
    assert outcome.error.startswith("refused:")
    assert len(resolve.calls) == 2


def test_ipv6_targets_are_bracketed_in_the_pinned_url() -> None:
    sent: list[tuple[str, str]] = []

    async def send(url: str, headers: dict[str, str], body: bytes) -> int:
        sent.append((url, headers["Host"]))
        return 200

    resolve = resolver(["2606:2800:220:1:248:1893:25c8:1946"])
    deliverer = Deliverer(send=send, resolve=resolve)
    assert run(deliverer.deliver(make_delivery("https://hooks.example:8443/x"))).delivered
    assert sent == [("https://[2606:2800:220:1:248:1893:25c8:1946]:8443/x", "hooks.example:8443")]


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://hooks.example/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "http:///path",
        "https://user:pass@hooks.example/",
        "https://token@hooks.example/",
        "http://hooks.example\\@127.0.0.1/",
        "http://hooks .example/",
        "http://hooks.example/\r\nX-Injected: 1",
        "http://[::1/",
        "http://hooks.example:99999/",
        "http://hooks.example:port/",
        "https://" + "a" * 2100 + ".example/",
    ],
)
def test_malformed_urls_are_refused_at_registration_and_delivery(url: str) -> None:
    with pytest.raises(OpenLeashError) as exc:
        wh.validate_webhook_url(url)
    assert exc.value.code == "INVALID_WEBHOOK_URL"
    assert status_of(exc.value) == 400
    with pytest.raises(WebhookTargetRefused):
        run(wh.check_target(url, allow_private=True, resolve=resolver(["93.184.216.34"])))


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/openleash?tenant=7",
        "HTTP://Hooks.Example.com:8080",
        "http://127.0.0.1:8080/",  # syntax only: where it points is checked at delivery
        "https://[2001:db8::1]/in",
        "https://bücher.example/hook",
    ],
)
def test_well_formed_urls_pass_the_registration_check(url: str) -> None:
    wh.validate_webhook_url(url)


def test_international_host_names_are_looked_up_in_their_ascii_form() -> None:
    resolve = resolver(["93.184.216.34"])
    run(wh.check_target("https://bücher.example/", allow_private=False, resolve=resolve))
    assert resolve.calls == [("xn--bcher-kva.example", 443)]


# --- body and signatures -------------------------------------------------------------------


def test_body_is_compact_json_in_the_typescript_key_order() -> None:
    body = wh.webhook_body(
        "policy_draft.denied",
        "2025-11-24T16:00:00.000Z",
        "ap-1",
        {"status": "DENIED", "denial_reason": "zu teuer – nein", "n": 1.5},
    )
    assert (
        body
        == (
            '{"event_type":"policy_draft.denied","timestamp":"2025-11-24T16:00:00.000Z",'
            '"agent_principal_id":"ap-1","data":{"status":"DENIED",'
            '"denial_reason":"zu teuer – nein","n":1.5}}'
        ).encode()
    )
    assert list(json.loads(body)) == ["event_type", "timestamp", "agent_principal_id", "data"]


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1764000000." + body, hashlib.sha256).hexdigest()
    assert wh.sign(SECRET, NOW, body) == f"t=1764000000,v1={expected}"
    with pytest.raises(ValueError):
        wh.sign(SECRET, -1, body)


def test_the_signature_binds_the_timestamp() -> None:
    body = b'{"a":1}'
    header = wh.sign(SECRET, NOW, body)
    mac = header.partition(",v1=")[2]
    moved = f"t={NOW + 100},v1={mac}"
    assert _verifies(SECRET, header, body, NOW + 100)
    assert not _verifies(SECRET, moved, body, NOW + 100)


@pytest.mark.parametrize(
    ("skew", "valid"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)]
)
def test_stale_or_future_timestamps_are_refused(skew: int, valid: bool) -> None:
    body = b"{}"
    header = wh.sign(SECRET, NOW, body)
    assert _verifies(SECRET, header, body, NOW + skew) is valid


def test_tolerance_can_be_tightened() -> None:
    header = wh.sign(SECRET, NOW, b"{}")
    assert _verifies(SECRET, header, b"{}", NOW + 30, tolerance_s=60)
    assert not _verifies(SECRET, header, b"{}", NOW + 61, tolerance_s=60)


def test_a_changed_body_or_wrong_secret_is_refused() -> None:
    header = wh.sign(SECRET, NOW, b'{"amount":1}')
    assert not _verifies(SECRET, header, b'{"amount":9}', NOW)
    assert not _verifies("other", header, b'{"amount":1}', NOW)


def test_any_of_several_v1_signatures_may_match_and_hex_case_does_not_matter() -> None:
    body = b"{}"
    good = wh.sign(SECRET, NOW, body).partition(",v1=")[2]
    header = f"t={NOW},v1={'0' * 64},v1={good.upper()},v0=ignored"
    assert _verifies(SECRET, header, body, NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"v1={'a' * 64}",
        f"t={NOW}",
        f"t={NOW},v1=short",
        f"t=-{NOW},v1={'a' * 64}",
        f"t={NOW}.5,v1={'a' * 64}",
        f"t={NOW},t={NOW},v1={'a' * 64}",
    ],
)
def test_malformed_signature_headers_are_refused(header: str) -> None:
    assert not _verifies(SECRET, header, b"{}", NOW)


def test_non_finite_time_is_refused() -> None:
    header = wh.sign(SECRET, NOW, b"{}")
    assert not _verifies(SECRET, header, b"{}", float("nan"))


def test_headers_without_an_auth_token_have_no_authorization() -> None:
    headers = wh.request_headers(
        secret=SECRET, auth_token="", event_type="e", delivery_id="d", timestamp=NOW, body=b"{}"
    )
    assert "Authorization" not in headers
    assert set(headers) == {
        "Content-Type",
        wh.SIGNATURE_HEADER,
        wh.LEGACY_SIGNATURE_HEADER,
        wh.EVENT_HEADER,
        wh.DELIVERY_HEADER,
    }
    assert wh.SIGNATURE_HEADER == "X-OpenLeash-Signature"
    assert wh.LEGACY_SIGNATURE_HEADER == "X-Webhook-Signature"


# --- secrets stay secret -------------------------------------------------------------------


def test_secrets_are_not_in_reprs() -> None:
    delivery = make_delivery("https://hooks.example/")
    text = repr(delivery)
    assert SECRET not in text
    assert TOKEN not in text
    assert "v4.public" not in text  # the body may carry an approval token
    assert "dlv-1" in text


def test_secrets_are_scrubbed_from_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    async def leaky(url: str, headers: dict[str, str], body: bytes) -> int:
        raise RuntimeError(f"boom with {headers['Authorization']} and {SECRET}")

    deliverer = Deliverer(send=leaky, allow_private=True, sleep=Sleeps(), max_attempts=2)
    with caplog.at_level(logging.DEBUG, logger="openleash.service.webhooks"):
        outcome = run(deliverer.deliver(make_delivery("http://127.0.0.1/")))
    assert outcome.gave_up
    assert outcome.error is not None
    assert outcome.error.startswith("RuntimeError: boom with Bearer [redacted] and [redacted]")
    for text in (outcome.error, repr(outcome), caplog.text):
        assert SECRET not in text
        assert TOKEN not in text
    assert "gave up" in caplog.text
