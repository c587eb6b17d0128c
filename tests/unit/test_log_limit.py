"""The bound on repeated log records, on a handler that keeps what it writes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from flashsale.log_limit import RepeatLimit, install, kind_of

WINDOW_S = 60.0


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kept(clock) -> Iterator[tuple[logging.Logger, Kept]]:
    handler = Kept()
    limit = RepeatLimit(handler, repeats=3, window_s=WINDOW_S, max_kinds=4, clock_s=clock)
    handler.addFilter(limit)
    logger = logging.getLogger("test.log_limit")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def _wrong_token(logger: logging.Logger, address: str) -> None:
    logger.warning("admin: wrong token from %s", address)


def test_the_first_of_a_kind_pass_then_one_line_counts_the_rest(kept, clock):
    logger, handler = kept
    for n in range(1000):
        _wrong_token(logger, f"10.0.0.{n}")
    shown = [f"WARNING test.log_limit: admin: wrong token from 10.0.0.{n}" for n in range(3)]
    assert handler.lines == shown
    clock.now_s += WINDOW_S
    _wrong_token(logger, "10.9.9.9")
    assert handler.lines[3:] == [
        "WARNING test.log_limit: 'admin: wrong token from %s' repeated 997 more times "
        "in the last 60 s (not written)",
        "WARNING test.log_limit: admin: wrong token from 10.9.9.9",
    ]


def test_a_summary_comes_with_any_later_record_and_at_exit(kept, clock):
    logger, handler = kept
    for _ in range(5):
        _wrong_token(logger, "x")
    clock.now_s += WINDOW_S + 1
    logger.info("something else")
    assert handler.lines[-2:] == [
        "WARNING test.log_limit: 'admin: wrong token from %s' repeated 2 more times "
        "in the last 61 s (not written)",
        "INFO test.log_limit: something else",
    ]
    for _ in range(4):
        _wrong_token(logger, "y")
    clock.now_s += 5
    limit = handler.filters[0]
    assert isinstance(limit, RepeatLimit)
    limit.flush()
    assert handler.lines[-1].endswith("repeated 1 more times in the last 5 s (not written)")
    limit.flush()  # nothing more to say
    assert handler.lines[-1].endswith("repeated 1 more times in the last 5 s (not written)")


def _fail(logger: logging.Logger, value: str) -> None:
    try:
        int(value)
    except ValueError:
        logger.exception("unexpected error on %s", value)


def test_tracebacks_of_one_place_are_one_kind(kept):
    logger, handler = kept
    for n in range(50):
        _fail(logger, f"x{n}")
    assert sum("Traceback" in line for line in handler.lines) == 3
    try:
        raise KeyError("elsewhere")
    except KeyError:
        logger.exception("unexpected error on %s", "y")
    assert "KeyError" in handler.lines[-1]  # another exception: another kind


def test_messages_that_differ_every_time_stay_bounded(kept, clock):
    logger, handler = kept
    for n in range(10_000):
        logger.error(f"formatted in place: {n}")  # as some libraries do
    # 4 kinds tracked, a line each, then 3 lines for all the kinds past them.
    assert len(handler.lines) == 4 + 3
    clock.now_s += WINDOW_S
    logger.error("later")
    summary = "'records of many kinds, the first formatted in place: 7' repeated 9993 more"
    assert summary in handler.lines[-2]


def test_a_summary_never_repeats_the_values(kept, clock):
    logger, handler = kept
    for _ in range(4):
        logger.warning("forged %s", "\n[ERROR] fake line\t<script>")
    clock.now_s += WINDOW_S
    logger.info("tick")
    summary = handler.lines[-2]
    assert "fake line" not in summary and "forged %s" in summary


def test_kinds_are_told_by_logger_level_and_call():
    def record(name: str, level: int, line: int, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, level, "f.py", line, msg, (), None)

    base = kind_of(record("a", logging.INFO, 1, "m %s"))
    assert kind_of(record("a", logging.INFO, 1, "m %s")) == base
    assert kind_of(record("b", logging.INFO, 1, "m %s")) != base
    assert kind_of(record("a", logging.ERROR, 1, "m %s")) != base
    assert kind_of(record("a", logging.INFO, 2, "m %s")) != base
    assert kind_of(record("a", logging.INFO, 1, "n %s")) != base


def test_install_puts_one_limit_on_each_handler_of_the_loggers():
    handler = Kept()
    logger = logging.getLogger("test.log_limit.install")
    logger.addHandler(handler)
    try:
        install(["test.log_limit.install"])
        install(["test.log_limit.install"])
        assert [type(each) for each in handler.filters] == [RepeatLimit]
    finally:
        logger.removeHandler(handler)
