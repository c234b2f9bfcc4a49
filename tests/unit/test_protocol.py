"""One write per response: the head waits for the body that follows it."""

from __future__ import annotations

import asyncio
from typing import Any

from openleash.api.protocol import CoalescingTransport


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_head_and_body_go_out_together() -> None:
    async def run() -> list[bytes]:
        recorder = Recorder()
        transport: Any = CoalescingTransport(recorder, asyncio.get_running_loop())
        transport.write(HEAD)
        transport.write(b"{}")
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
        return recorder.writes

    assert asyncio.run(run()) == [HEAD + b"{}"]


def test_a_head_without_a_body_is_sent_at_the_end_of_the_turn() -> None:
    async def run() -> list[bytes]:
        recorder = Recorder()
        transport: Any = CoalescingTransport(recorder, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        assert recorder.writes == []
        await asyncio.sleep(0)
        return recorder.writes

    assert asyncio.run(run()) == [b"HTTP/1.1 204 No Content\r\n\r\n"]


def test_close_sends_what_is_held_first() -> None:
    async def run() -> Recorder:
        recorder = Recorder()
        transport: Any = CoalescingTransport(recorder, asyncio.get_running_loop())
        transport.write(HEAD)
        transport.close()
        return recorder

    recorder = asyncio.run(run())
    assert recorder.writes == [HEAD]
    assert recorder.closed


def test_other_writes_pass_straight_through() -> None:
    async def run() -> list[bytes]:
        recorder = Recorder()
        transport: Any = CoalescingTransport(recorder, asyncio.get_running_loop())
        transport.write(b"chunk one")
        transport.write(b"chunk two")
        return recorder.writes

    assert asyncio.run(run()) == [b"chunk one", b"chunk two"]


def test_writes_after_the_transport_closed_are_dropped() -> None:
    async def run() -> list[bytes]:
        recorder = Recorder()
        transport: Any = CoalescingTransport(recorder, asyncio.get_running_loop())
        transport.write(HEAD)
        recorder.close()  # the client hung up before the body
        transport.write(b"{}")
        await asyncio.sleep(0)
        return recorder.writes

    assert asyncio.run(run()) == []
