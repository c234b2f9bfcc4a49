"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol, with bounded
connections and writing each response with one system call.

Bounds (:class:`ConnectionLimits`, from the ``server`` settings): a connection must send a
whole request head within ``header_timeout`` seconds of opening (or of its first byte, for
later requests on a keep-alive connection) and its body within ``body_timeout`` seconds of the
head, else it is closed; a head larger than ``max_header_bytes`` is answered 431 and the
connection closed (nothing past the limit is kept); past ``max_connections`` open connections a
new one is closed at once. Idle keep-alive connections are closed by uvicorn's
``timeout_keep_alive``. A response the client stops taking (its writer waits on a full buffer)
gets ``body_timeout`` seconds to move again, else the connection is dropped: a client that sends
a request and never reads the answer would otherwise hold the connection, and its kernel
buffers, for ever.

uvicorn writes a response's status line and headers, then its body, as two writes; on a
connection without Nagle's algorithm that is two TCP segments and two wake-ups of the client for
every small JSON answer. Here the head is held until the body follows (in the same turn of the
event loop) and both go out together; a head with no body after it is sent at the end of the
turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openleash.api.errors import status_of
from openleash.config import ConnectionLimits
from openleash.domain.errors import InvalidInputError

_HEAD_START = b"HTTP/"
_HEAD_END = b"\r\n\r\n"


class CoalescingTransport:
    """A transport that joins a response head with the write that follows it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._transport.is_closing():
            # The client is gone. uvicorn may still write (a response it was waiting to send,
            # woken by the loss); uvloop raises on a closed transport, and each hang-up would
            # put tracebacks in the log. Dropped, as asyncio's own transports do.
            self._held = None
            return
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
        elif isinstance(data, bytes) and data.startswith(_HEAD_START) and data.endswith(_HEAD_END):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        self._held = None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, lines: Any) -> None:
        self.flush()
        self._transport.writelines(lines)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _HeadTooLargeError(Exception):
    """Raised from a parser callback to stop reading a head past the limit."""


def _refusal(code: str, message: str) -> bytes:
    error = InvalidInputError(code, message)
    body = orjson.dumps(error.to_wire())
    reason = b"Request Header Fields Too Large"
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status_of(error), reason),
            b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        )
    )


class HttpProtocol(HttpToolsProtocol):
    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # INVARIANT: ``openleash start`` hands its limits over as ``config.limits``.
        self.limits: ConnectionLimits = getattr(config, "limits", None) or ConnectionLimits()
        self._head_bytes = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)
        if len(self.connections) > self.limits.max_connections:
            # Closed before anything is read: the file descriptor is back at once.
            transport.abort()
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    # -- the head: bounded in size and in time ---------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLargeError

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        limit = self.limits.max_header_bytes
        self.transport.write(
            _refusal("HEADERS_TOO_LARGE", f"The request head exceeds {limit} bytes; send less")
        )
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._timed_out)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    # -- the response: the client must keep taking it ---------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.body_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_write_timer()

    def _stalled(self) -> None:
        self._write_timer = None
        # Dropped, not closed: a close would wait to flush what the client is not reading.
        if not self.transport.is_closing():
            self.transport.abort()

    def _cancel_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    # -- timers ------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head waits behind a response still being written (an event stream):
            # that response is not the client's delay.
            self._arm_head_timer()
            return
        self._timed_out()

    def _timed_out(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        self._cancel_write_timer()
