"""The event-stream parser reads what the service sends, however the bytes are cut."""

from __future__ import annotations

from stress.client.sse import SseEvent, SseParser

# What GET /flash-sale/events sends: the retry, the status on connect, a
# heartbeat, then a change.
STREAM = (
    b"retry: 2300\nevent: status\nid: 7-0-open-closed\n"
    b'data: {"saleId":7,"state":"open","sold":0}\n\n'
    b": heartbeat\n\n"
    b"event: status\nid: 7-100-sold_out-closed\n"
    b'data: {"saleId":7,"state":"sold_out","sold":100}\n\n'
)
EXPECTED = [
    SseEvent("status", '{"saleId":7,"state":"open","sold":0}', "7-0-open-closed"),
    SseEvent("status", '{"saleId":7,"state":"sold_out","sold":100}', "7-100-sold_out-closed"),
]


def test_the_service_stream_in_one_piece():
    parser = SseParser()
    assert parser.feed(STREAM) == EXPECTED
    assert parser.retry_ms == 2300
    assert parser.comments == 1
    assert parser.last_id == "7-100-sold_out-closed"


def test_every_cut_of_the_stream_gives_the_same_events():
    for cut in range(1, len(STREAM)):
        parser = SseParser()
        events = parser.feed(STREAM[:cut]) + parser.feed(STREAM[cut:])
        assert events == EXPECTED, cut
        assert parser.comments == 1


def test_byte_by_byte():
    parser = SseParser()
    events = [event for byte in STREAM for event in parser.feed(bytes([byte]))]
    assert events == EXPECTED


def test_crlf_and_cr_line_ends_and_a_crlf_split_between_chunks():
    parser = SseParser()
    assert parser.feed(b"event: status\r\ndata: a\r") == []
    assert parser.feed(b"\n\r\n") == [SseEvent("status", "a", None)]
    assert parser.feed(b"data: b\r\rdata:c\n\n") == [
        SseEvent("message", "b", None),
        SseEvent("message", "c", None),
    ]


def test_multi_line_data_and_the_rules_for_fields():
    parser = SseParser()
    events = parser.feed(
        b"data: one\ndata:two\ndata\n\n"  # a field without a colon has an empty value
        b"event: status\n\n"  # no data: nothing dispatched, the event name is dropped
        b"id: bad\0id\nretry: soon\nunknown: x\ndata: three\n\n"
    )
    assert events == [SseEvent("message", "one\ntwo\n", None), SseEvent("message", "three", None)]
    assert parser.retry_ms is None and parser.last_id is None


def test_invalid_utf8_does_not_stop_the_stream():
    parser = SseParser()
    events = parser.feed(b"data: \xff\xfe\n\ndata: ok\n\n")
    assert [event.data for event in events] == ["\ufffd\ufffd", "ok"]
