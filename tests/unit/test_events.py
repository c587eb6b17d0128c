"""The broadcaster of one worker, over real shared memory: what each open stream is sent."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from itertools import pairwise
from types import SimpleNamespace

import orjson

from flashsale.api.events import (
    HEARTBEAT,
    STREAM_BACKLOG_BYTES,
    Refusal,
    StatusBroadcaster,
    StatusEvent,
)
from flashsale.api.status import SaleStatus
from flashsale.config import Settings
from flashsale.observe import ServerView
from flashsale.records import QueueTerms
from flashsale.serving.protocol import DirectBody, FlashSaleProtocol, RequestReceiver
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import ProcessSlots
from flashsale.shm.store_board import StoreBoard
from tests.support.catalogue import snapshot

WAIT_S = 10.0
ADDRESS_FULL = Refusal.ADDRESS_FULL


class Page:
    """One stream's ASGI side: what the server sent it, and a way to leave."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.arrived = asyncio.Event()
        self._leave = asyncio.Event()

    async def send(self, message: dict) -> None:
        self.sent.append(message)
        self.arrived.set()

    async def receive(self) -> dict:
        await self._leave.wait()
        return {"type": "http.disconnect"}

    def leave(self) -> None:
        self._leave.set()

    def statuses(self) -> list[dict]:
        found = []
        for message in self.sent:
            for block in message.get("body", b"").split(b"\n\n"):
                for line in block.split(b"\n"):
                    if line.startswith(b"data: "):
                        found.append(orjson.loads(line[len(b"data: ") :]))
        return found

    async def wait_for(self, count: int) -> list[dict]:
        async def enough() -> None:
            while len(self.statuses()) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), WAIT_S)
        return self.statuses()


def _sale(queue: QueueTerms | None = None) -> tuple[SaleBoard, SaleStatus]:
    board = SaleBoard()
    board.publish_sale(replace(snapshot(1, 100), queue=queue))
    view = ServerView(Settings(), board, ProcessSlots(), StoreBoard())
    auth = {"mode": "open", "tokenCookie": None}
    return board, SaleStatus(view, lambda: "closed", auth, heartbeat_s=15.0)


def _first_event(status: SaleStatus) -> StatusEvent:
    read = status.read()
    assert read is not None
    return StatusEvent(read.tag, status.complete(read.body, read.at_us))


def _serve(broadcaster: StatusBroadcaster, status: SaleStatus, page: Page) -> asyncio.Task:
    """A stream as EventStreams serves one: its slot taken, served, given back."""
    assert broadcaster.admit("") is None

    async def served() -> None:
        try:
            await broadcaster.serve(_first_event(status), page.send, page.receive)
        finally:
            broadcaster.leave("")

    return asyncio.create_task(served())


def _broadcaster(status: SaleStatus, counted: list[int], **kwargs) -> StatusBroadcaster:
    return StatusBroadcaster(
        status,
        max_streams=kwargs.get("max_streams", 10),
        per_address=kwargs.get("per_address", 0),
        heartbeat_s=kwargs.get("heartbeat_s", 60.0),
        count_streams=counted.append,
    )


def test_changes_in_a_burst_reach_a_page_as_one_event_with_the_latest_stock():
    async def scenario() -> None:
        board, status = _sale()
        broadcaster = _broadcaster(status, [])
        broadcaster.start()
        page = Page()
        serving = _serve(broadcaster, status, page)
        assert [s["sold"] for s in await page.wait_for(1)] == [0]
        for sold in range(1, 6):  # five commits between two reads of shared memory
            board.publish_sold(sold, batch=1, product_sold={0: sold})
        assert [s["sold"] for s in await page.wait_for(2)] == [0, 5]
        broadcaster.stop()
        await asyncio.wait_for(serving, WAIT_S)
        assert page.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}

    asyncio.run(scenario())


def test_one_page_leaving_ends_only_its_own_stream():
    async def scenario() -> None:
        board, status = _sale()
        counted: list[int] = []
        broadcaster = _broadcaster(status, counted)
        broadcaster.start()
        pages = [Page() for _ in range(3)]
        served = [_serve(broadcaster, status, p) for p in pages]
        for page in pages:
            await page.wait_for(1)
        assert broadcaster.open_streams == 3
        pages[0].leave()
        await asyncio.wait_for(served[0], WAIT_S)
        assert broadcaster.open_streams == 2
        board.publish_sold(1, batch=1, product_sold={0: 1})
        for page in pages[1:]:
            assert (await page.wait_for(2))[-1]["sold"] == 1
        assert not any(task.done() for task in served[1:])
        broadcaster.stop()
        await asyncio.wait_for(asyncio.gather(*served[1:]), WAIT_S)
        assert broadcaster.open_streams == 0
        assert sum(counted) == 0 and counted.count(+1) == 3

    asyncio.run(scenario())


def test_a_page_that_connected_after_a_change_is_not_sent_it_twice():
    async def scenario() -> None:
        board, status = _sale()
        broadcaster = _broadcaster(status, [], heartbeat_s=0.5)
        broadcaster.start()
        board.publish_sold(1, batch=1, product_sold={0: 1})
        page = Page()  # connects with sold=1 before the broadcaster has read it
        serving = _serve(broadcaster, status, page)

        # The next thing after the first event is a heartbeat, not sold=1 again.
        async def heartbeat() -> None:
            while not any(m.get("body") == b": heartbeat\n\n" for m in page.sent):
                page.arrived.clear()
                await page.arrived.wait()

        await asyncio.wait_for(heartbeat(), WAIT_S)
        assert [s["sold"] for s in page.statuses()] == [1]
        broadcaster.stop()
        await asyncio.wait_for(serving, WAIT_S)

    asyncio.run(scenario())


def test_the_bound_and_a_stopping_worker_admit_no_more_streams():
    _, status = _sale()
    broadcaster = _broadcaster(status, [], max_streams=0)
    assert broadcaster.admit("") is Refusal.SERVER_FULL
    broadcaster = _broadcaster(status, [], max_streams=5)
    assert broadcaster.admit("") is None
    broadcaster.stop()
    assert broadcaster.admit("") is Refusal.SERVER_FULL


def test_an_address_at_its_bound_is_refused_while_others_are_admitted():
    async def scenario() -> None:
        _, status = _sale()
        counted: list[int] = []
        broadcaster = _broadcaster(status, counted, max_streams=5, per_address=2)
        assert [broadcaster.admit("192.0.2.1") for _ in range(3)] == [None, None, ADDRESS_FULL]
        assert broadcaster.admit("192.0.2.2") is None
        assert broadcaster.admit("") is None  # a peer with no address: counted only overall
        assert broadcaster.open_streams == 4
        broadcaster.leave("192.0.2.1")
        assert broadcaster.admit("192.0.2.1") is None
        assert broadcaster.admit("192.0.2.3") is None  # the fifth: the worker is full
        assert broadcaster.admit("192.0.2.4") is Refusal.SERVER_FULL
        assert sum(counted) == broadcaster.open_streams == 5

    asyncio.run(scenario())  # a refusal's log line may wait on the loop


def test_a_failed_read_of_the_sale_does_not_end_the_updates():
    class FailsOnce(SaleStatus):
        failed = False

        def read(self):
            sale = board.sale()
            if not self.failed and sale is not None and sale.sold == 1:
                self.failed = True
                raise RuntimeError("a bug in reading the sale")
            return super().read()

    async def scenario() -> None:
        broadcaster = _broadcaster(status, [])
        broadcaster.start()
        page = Page()
        serving = _serve(broadcaster, status, page)
        await page.wait_for(1)
        board.publish_sold(1, batch=1, product_sold={0: 1})
        assert (await page.wait_for(2))[-1]["sold"] == 1
        assert status.failed
        broadcaster.stop()
        await asyncio.wait_for(serving, WAIT_S)

    board, plain = _sale()
    status = FailsOnce(plain.view, plain.breaker_state, plain.auth, plain.heartbeat_s)
    asyncio.run(scenario())


# -- the direct path: this service's server, the broadcaster writing to the transport ---
class Transport(asyncio.Transport):
    """A connection's transport as the broadcaster sees it: what was written, and how
    much of it the page has not read (`unread`, set by a test)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.write_times: list[float] = []  # time.monotonic() of each write
        self.unread = 0
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)
        self.write_times.append(time.monotonic())

    def get_write_buffer_size(self) -> int:
        return self.unread

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def chunks(self) -> list[bytes]:
        """The written body, unframed: each write must be one whole HTTP/1.1 chunk."""
        found, rest = [], self.written
        while rest:
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line, 16)
            assert rest[size : size + 2] == b"\r\n", "a chunk's length does not match"
            found.append(rest[:size])
            rest = rest[size + 2 :]
        return found

    def statuses(self) -> list[dict]:
        return [
            orjson.loads(line[len(b"data: ") :])
            for chunk in self.chunks()
            for line in chunk.split(b"\n")
            if line.startswith(b"data: ")
        ]


class DirectPage(Page):
    """A page on this service's server: the first event through `send`, the rest
    written to its transport; `receive` is the server's, which calls back on leaving."""

    def __init__(self) -> None:
        super().__init__()
        self.transport = Transport()
        self.receiver = _Receiver(self.transport)
        self.receive = self.receiver.receive  # type: ignore[method-assign]

    def leave(self) -> None:
        self.receiver.signal_disconnect()


class _Receiver(RequestReceiver):
    def __init__(self, transport: Transport) -> None:
        super().__init__(SimpleNamespace(), None)
        self.set_complete()
        self._transport = transport

    def direct_body(self) -> DirectBody | None:
        return None if self.gone else DirectBody(self._transport, chunked=True)


async def _until(condition, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.02)


def test_events_reach_a_page_through_its_transport_as_whole_chunks():
    async def scenario() -> None:
        board, status = _sale()
        broadcaster = _broadcaster(status, [])
        broadcaster.start()
        page = DirectPage()
        serving = _serve(broadcaster, status, page)
        assert [s["sold"] for s in await page.wait_for(1)] == [0]  # through `send`
        board.publish_sold(3, batch=3, product_sold={0: 3})
        await _until(lambda: page.transport.statuses(), "an event on the transport")
        assert [s["sold"] for s in page.transport.statuses()] == [3]
        assert len(page.sent) == 1  # nothing more went through `send`
        page.leave()
        await asyncio.wait_for(serving, WAIT_S)
        assert broadcaster.open_streams == 0
        board.publish_sold(4, batch=1, product_sold={0: 4})
        await asyncio.sleep(0.3)  # nothing is written to a page that left
        assert [s["sold"] for s in page.transport.statuses()] == [3]
        broadcaster.stop()

    asyncio.run(scenario())


def test_a_page_that_does_not_read_is_closed_and_the_others_go_on():
    async def scenario() -> None:
        board, status = _sale()
        broadcaster = _broadcaster(status, [])
        broadcaster.start()
        slow, reader = DirectPage(), DirectPage()
        served = [_serve(broadcaster, status, p) for p in (slow, reader)]
        for page in (slow, reader):
            await page.wait_for(1)
        slow.transport.unread = STREAM_BACKLOG_BYTES + 1
        board.publish_sold(1, batch=1, product_sold={0: 1})
        await _until(lambda: slow.transport.aborted, "the slow page closed")
        slow.leave()  # the connection lost, as the server reports it
        await asyncio.wait_for(served[0], WAIT_S)
        board.publish_sold(2, batch=1, product_sold={0: 2})
        await _until(lambda: len(reader.transport.statuses()) == 2, "the reader's 2nd event")
        assert [s["sold"] for s in reader.transport.statuses()] == [1, 2]
        assert [s["sold"] for s in slow.transport.statuses()] == [1]
        assert broadcaster.open_streams == 1
        broadcaster.stop()
        await asyncio.wait_for(served[1], WAIT_S)
        assert reader.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}

    asyncio.run(scenario())


def test_heartbeats_go_only_to_streams_sent_nothing_lately():
    async def scenario() -> None:
        board, status = _sale()
        broadcaster = _broadcaster(status, [], heartbeat_s=1.5)
        broadcaster.start()
        direct, through_asgi = DirectPage(), Page()
        served = [_serve(broadcaster, status, p) for p in (direct, through_asgi)]
        for page in (direct, through_asgi):
            await page.wait_for(1)
        for sold in range(1, 8):  # an event every 0.6 s: more often than heartbeats
            board.publish_sold(sold, batch=1, product_sold={0: sold})
            await asyncio.sleep(0.6)
        assert HEARTBEAT not in direct.transport.chunks()
        assert [s["sold"] for s in direct.transport.statuses()] == list(range(1, 8))
        assert not any(m.get("body") == HEARTBEAT for m in through_asgi.sent)
        assert [s["sold"] for s in through_asgi.statuses()] == list(range(8))
        # Then idle: heartbeats again, on both paths.
        await _until(lambda: HEARTBEAT in direct.transport.chunks(), "a direct heartbeat")
        await _until(
            lambda: any(m.get("body") == HEARTBEAT for m in through_asgi.sent),
            "a heartbeat through ASGI",
        )
        broadcaster.stop()
        await asyncio.wait_for(asyncio.gather(*served), WAIT_S)

    asyncio.run(scenario())


def test_no_stream_goes_heartbeat_s_without_a_write():
    """Whenever its last event went out (here at any moment between two looks for
    silent streams), a heartbeat follows within heartbeat_s."""
    heartbeat_s, slack_s = 1.0, 0.3  # slack: the event loop's own lateness

    async def scenario() -> None:
        board, status = _sale()
        broadcaster = _broadcaster(status, [], heartbeat_s=heartbeat_s)
        broadcaster.start()
        page = DirectPage()
        served = _serve(broadcaster, status, page)
        await page.wait_for(1)
        connected_at = time.monotonic()
        for sold in range(1, 5):
            board.publish_sold(sold, batch=1, product_sold={0: sold})
            await asyncio.sleep(1.6 * heartbeat_s)  # then silence, at another phase
        times = [connected_at, *page.transport.write_times, time.monotonic()]
        gaps = [round(b - a, 2) for a, b in pairwise(times)]
        assert max(gaps) <= heartbeat_s + slack_s, gaps
        assert HEARTBEAT in page.transport.chunks()
        assert [s["sold"] for s in page.transport.statuses()] == [1, 2, 3, 4]
        broadcaster.stop()
        await asyncio.wait_for(served, WAIT_S)

    asyncio.run(scenario())


ADMITTING = 1  # the waiting room's board code (flashsale.allocator.waiting_room)
QUEUE_CLOSED = 2


def _queue(board: SaleBoard, state: int, length: int, serving: int) -> None:
    board.publish_queue((state, length, serving, length - serving, 0))


def test_a_waiting_rooms_now_serving_waits_for_a_heartbeat_and_its_state_does_not():
    async def scenario() -> None:
        board, status = _sale(QueueTerms(None, admit_per_minute=600))
        _queue(board, ADMITTING, 5_000, 100)
        broadcaster = _broadcaster(status, [], heartbeat_s=60.0)
        broadcaster.start()
        page = DirectPage()
        served = _serve(broadcaster, status, page)
        await page.wait_for(1)
        for serving in range(101, 116):  # admissions: pages follow the rate themselves
            _queue(board, ADMITTING, 5_000, serving)
            await asyncio.sleep(0.1)
        assert page.transport.written == b""
        _queue(board, QUEUE_CLOSED, 5_000, 120)  # the sell-out: every page, at once
        await _until(lambda: page.transport.statuses(), "the closed queue pushed")
        assert page.transport.statuses()[-1]["queue"]["state"] == "closed"
        assert page.transport.statuses()[-1]["queue"]["serving"] == 120
        assert page.transport.statuses()[-1]["heartbeatSeconds"] == 15.0
        broadcaster.stop()
        await asyncio.wait_for(served, WAIT_S)

    asyncio.run(scenario())


def test_a_moving_waiting_rooms_pages_get_now_serving_in_place_of_heartbeats():
    async def scenario() -> None:
        board, status = _sale(QueueTerms(None, admit_per_minute=600))
        _queue(board, ADMITTING, 5_000, 100)
        heartbeat_s = 2.0
        broadcaster = _broadcaster(status, [], heartbeat_s=heartbeat_s)
        loop = asyncio.get_running_loop()
        started = loop.time()
        broadcaster.start()
        page = DirectPage()
        served = _serve(broadcaster, status, page)
        await page.wait_for(1)
        serving = 100
        while loop.time() - started < 3.5 * heartbeat_s:  # admitting all along
            serving += 1
            _queue(board, ADMITTING, 5_000, serving)
            await asyncio.sleep(0.1)
        elapsed = loop.time() - started
        pushed = [s["queue"]["serving"] for s in page.transport.statuses()]
        # One write each time one is due: "now serving" as it then was, no heartbeat.
        assert HEARTBEAT not in page.transport.chunks()
        assert 0 < broadcaster.quiet_s < heartbeat_s
        assert 2 <= len(pushed) <= elapsed / broadcaster.quiet_s + 1, pushed
        assert pushed == sorted(pushed) and 100 < pushed[-1] <= serving
        broadcaster.stop()
        await asyncio.wait_for(served, WAIT_S)

    asyncio.run(scenario())


def test_the_server_gives_its_transport_once_the_head_is_out_whatever_its_class():
    class UvloopLikeTransport:  # uvloop's transports do not subclass asyncio.Transport
        closing = False

        def is_closing(self) -> bool:
            return self.closing

    transport = UvloopLikeTransport()
    protocol = object.__new__(FlashSaleProtocol)  # only what direct_body reads
    protocol.transport = transport  # type: ignore[assignment]
    protocol._closed = False
    protocol._chunked_answer = True
    protocol._response_buffer = b"HTTP/1.1 200 OK\r\n\r\n"
    assert protocol.direct_body() is None  # the head not written yet
    protocol._response_buffer = None
    assert protocol.direct_body() == DirectBody(transport, chunked=True)  # type: ignore[arg-type]
    transport.closing = True
    assert protocol.direct_body() is None
