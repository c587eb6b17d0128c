"""A journal that cannot be written, on real file systems: a full tmpfs, an ext4 gone
read-only, and a sale bigger than its small disk.

The allocator must stay up and refuse to sell (fast 503s with Retry-After, the
breaker open, health 503 naming the journal and its error, a metric counting
the errors), confirm nothing it could not write, lose nothing it confirmed, and
sell again by itself once the disk has room. Mounting needs root (and, for
ext4, a loop device): where that cannot be had, these tests skip and say why.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.load import Answer, journal_orders, keep_buying
from tests.support.server import ServerProcess, wait_until

# Long on purpose: a purchase that waited for the allocator would take this
# long, so an answer well within it came from the breaker, whatever the
# machine's speed.
REPLY_TIMEOUT_S = 20.0
ADMIN_TOKEN = "journal-faults-admin"
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RECOVERY_TIMEOUT_S = 60.0


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _mount_or_skip(*command: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system for the journal needs root")
    done = _run(*command)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a file system here ({' '.join(command)}): {done.stderr.strip()}")


@pytest.fixture
def small_tmpfs(tmp_path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount_or_skip("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        _run("umount", "-l", str(disk))


@pytest.fixture
def twelve_mib_tmpfs(tmp_path) -> Iterator[Path]:
    disk = tmp_path / "small"
    disk.mkdir()
    _mount_or_skip("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        _run("umount", "-l", str(disk))


@pytest.fixture
def ext4_disk(tmp_path) -> Iterator[Path]:
    image, disk = tmp_path / "ext4.img", tmp_path / "ext4"
    disk.mkdir()
    with open(image, "wb") as blank:
        blank.truncate(64 * 1024 * 1024)
    made = _run("mkfs.ext4", "-q", "-F", str(image))
    if made.returncode != 0:
        pytest.skip(f"cannot make an ext4 file system here: {made.stderr.strip()}")
    # errors=remount-ro: what a production ext4 does when its disk fails.
    _mount_or_skip("mount", "-o", "loop,errors=remount-ro", str(image), str(disk))
    try:
        yield disk
    finally:
        _run("umount", "-l", str(disk))


def _server(tmp_path: Path, db_path: Path) -> ServerProcess:
    server = ServerProcess(
        db_path,
        workers=2,
        env={
            "FLASHSALE_STOCK": "1000",
            "FLASHSALE_RATE_LIMIT": "1000",
            "FLASHSALE_REPLY_TIMEOUT_S": str(REPLY_TIMEOUT_S),
            "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
        },
    )
    # The log stays off the failing disk.
    server.log_path = tmp_path / f"server.{server.port}.log"
    return server


def _buy(server: ServerProcess, user: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = requests.post(
        f"{server.url}/flash-sale/purchase", json={"userId": user}, timeout=REPLY_TIMEOUT_S + 10
    )
    return answer, time.monotonic() - started


def _fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to make room again)."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    # Unbuffered: a write that fits in part returns what it wrote, and nothing is left
    # in a buffer for the close to fail on (the journal's size decides whether the last
    # chunk fits whole).
    with open(filler, "wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    return filler


def _raw_health(server: ServerProcess) -> requests.Response:
    return requests.get(f"{server.url}/flash-sale/health", timeout=10)


def _journal_metrics(server: ServerProcess) -> dict[str, float]:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("flashsale_journal_")
    }


def _refusing_to_sell(
    server: ServerProcess, prefix: str, error: str
) -> tuple[list[str], list[str]]:
    """Buy until the server refuses; then check every sign of the fault. Returns the
    users sold to before the refusals began, and those refused (who may own nothing)."""
    sold: list[str] = []
    refused: list[str] = []
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:  # the next commit finds the disk failing
        user = f"{prefix}-{len(sold) + len(refused)}"
        answer, _ = _buy(server, user)
        assert answer.status_code in (201, 503), answer.text
        (sold if answer.status_code == 201 else refused).append(user)
        if answer.status_code == 503 and answer.json()["title"] == "Not selling":
            break
    else:
        raise AssertionError("purchases never stopped while the journal could not be written")
    answer, took_s = _buy(server, f"{prefix}-fast")
    refused.append(f"{prefix}-fast")
    assert answer.status_code == 503
    assert took_s < REPLY_TIMEOUT_S / 2, "the refusal waited for the allocator"
    assert int(answer.headers["Retry-After"]) >= 1
    assert "journal cannot be written" in answer.json()["detail"]

    health = _raw_health(server)
    assert health.status_code == 503
    detail = health.json()
    assert detail["status"] == "unhealthy"
    assert detail["journal"]["writable"] is False
    assert error in detail["journal"]["lastError"]
    assert any("journal" in problem for problem in detail["problems"])
    assert detail["breaker"]["state"] == "open"
    assert detail["breaker"]["lastReason"] == "journal cannot be written"
    metrics = _journal_metrics(server)
    assert metrics["flashsale_journal_writable"] == 0
    assert metrics["flashsale_journal_write_errors_total"] >= 1
    return sold, refused


def _sell_some(server: ServerProcess) -> list[str]:
    """Sales made while the journal is fine: the users who bought."""
    users = [f"before-{i}" for i in range(20)]
    assert [_buy(server, user)[0].status_code for user in users] == [201] * 20
    return users


def _owned(server: ServerProcess, user: str) -> int:
    return requests.get(f"{server.url}/flash-sale/purchase/{user}", timeout=10).status_code


def test_a_full_disk_stops_the_selling_and_room_starts_it_again(tmp_path, small_tmpfs):
    server = _server(tmp_path, small_tmpfs / "flashsale.db")
    with server:
        allocator = server.allocator_pid()
        sold = _sell_some(server)

        filler = _fill(small_tmpfs)
        sold_before, refused = _refusing_to_sell(server, "full", "SQLITE_FULL")
        sold += sold_before
        for user in refused:
            assert _owned(server, user) == 404, f"{user} was refused but owns an order"
        # Nothing changes while it fails: no new sale either.
        answer = requests.post(
            f"{server.url}/flash-sale/admin/sale",
            json={"stock": 5},
            headers={**HEADERS, "If-Match": "*"},  # would replace the sale, if it could
            timeout=30,
        )
        assert answer.status_code == 503
        assert "store cannot be written" in answer.json()["detail"]
        assert server.status()["total"] == 1000

        filler.unlink()
        wait_until(
            lambda: _raw_health(server).status_code == 200,
            RECOVERY_TIMEOUT_S,
            interval_s=0.2,
            message="health 200 once the disk has room",
        )
        assert _journal_metrics(server)["flashsale_journal_writable"] == 1

        def sells_again() -> bool:
            user = f"after-{time.monotonic_ns()}"
            if _buy(server, user)[0].status_code == 201:
                sold.append(user)
                return True
            return False

        wait_until(sells_again, RECOVERY_TIMEOUT_S, interval_s=0.2, message="selling again")
        health = server.health()
        assert health is not None
        assert health["allocator"]["pid"] == allocator, "the allocator was restarted"
        assert health["allocator"]["restarts"] == 0
        assert server.status()["sold"] == len(sold)
    assert sorted(journal_orders(server.db_path)) == sorted(sold)
    assert "Traceback" not in server.log()


def test_a_journal_gone_read_only_stops_the_selling_and_loses_nothing(tmp_path, ext4_disk):
    server = _server(tmp_path, ext4_disk / "flashsale.db")
    with server:
        allocator = server.allocator_pid()
        sold = _sell_some(server)

        device = Path(_run("findmnt", "-no", "SOURCE", str(ext4_disk)).stdout.strip()).name
        trigger = Path(f"/sys/fs/ext4/{device}/trigger_fs_error")
        if not trigger.exists():
            pytest.skip(f"this kernel has no {trigger} to make ext4 fail as a bad disk does")
        trigger.write_text("flashsale test: the disk fails\n")
        wait_until(lambda: _read_only(ext4_disk), 10, message="ext4 read-only")

        sold_before, refused = _refusing_to_sell(server, "ro", "SQLITE_")
        sold += sold_before
        for user in refused:
            assert _owned(server, user) == 404, f"{user} was refused but owns an order"
        for user in sold:  # what was confirmed is still there to read
            assert _owned(server, user) == 200
        health = _raw_health(server).json()
        assert health["allocator"]["pid"] == allocator
        assert health["allocator"]["restarts"] == 0
    assert "Traceback" not in server.log()

    # A read-only ext4 needs an operator (fsck, a new mount); after that the
    # journal holds every sale that was confirmed, and nothing else.
    assert _run("umount", str(ext4_disk)).returncode == 0
    image = tmp_path / "ext4.img"
    _run("e2fsck", "-fy", str(image))
    assert _run("mount", "-o", "loop", str(image), str(ext4_disk)).returncode == 0
    assert sorted(journal_orders(ext4_disk / "flashsale.db")) == sorted(sold)


def _read_only(folder: Path) -> bool:
    try:
        (folder / "probe").touch()
    except OSError as exc:
        return exc.errno == errno.EROFS
    return False


# A sale of 20,000 one-per-shopper units on a 12 MiB disk, 10 MiB of it taken by
# a file: the journal's orders (about 140 bytes each here) need more than the
# 2 MiB left, so the disk ends the sale first, and once the file is gone they fit.
SMALL_DISK_STOCK = 20_000
MIB = 1024 * 1024
FILLER_BYTES = 10 * MIB


def test_a_sale_bigger_than_its_small_disk_sells_until_the_disk_is_full_and_again_after(
    tmp_path, twelve_mib_tmpfs
):
    disk = twelve_mib_tmpfs
    filler = disk / "filler"
    filler.write_bytes(b"\0" * FILLER_BYTES)
    server = ServerProcess(
        disk / "flashsale.db",
        workers=2,
        env={
            "FLASHSALE_STOCK": str(SMALL_DISK_STOCK),
            "FLASHSALE_RATE_LIMIT": "1000",
            # A slow machine's stall must not pass for the allocator's failure.
            "FLASHSALE_REPLY_TIMEOUT_S": str(REPLY_TIMEOUT_S),
            "FLASHSALE_BREAKER_SILENCE_S": "10",
        },
    )
    server.log_path = tmp_path / f"server.{server.port}.log"  # off the small disk
    shoppers = [f"shopper-{i:05d}" for i in range(SMALL_DISK_STOCK)]
    with server:
        allocator = server.allocator_pid()
        answers = keep_buying(server.url, shoppers)
        assert sorted(answer.user_id for answer in answers) == shoppers
        sold = _sold_or_not_selling(answers)
        assert 0 < len(sold) < SMALL_DISK_STOCK, "the disk should have ended the sale first"
        # Honestly full: of the sale's orders, to the last pages, not of a WAL that
        # was never checkpointed.
        files = {path.name: path.stat().st_size for path in disk.iterdir()}
        assert files["flashsale.db"] > 1.5 * MIB, files
        assert files["flashsale.db-wal"] < files["flashsale.db"] / 4, files
        assert _free_bytes(disk) < MIB / 2, files
        health = _raw_health(server).json()
        assert health["journal"]["writable"] is False
        assert "SQLITE_FULL" in health["journal"]["lastError"]

        filler.unlink()

        def sells_again() -> bool:
            user = f"after-{time.monotonic_ns()}"
            answer, _ = _buy(server, user)
            if answer.status_code == 201:
                sold[user] = answer.json()["orderId"]
                return True
            # Not selling yet, or the breaker's probes after it (its cool-down).
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["Retry-After"]) >= 1
            return False

        wait_until(sells_again, RECOVERY_TIMEOUT_S, interval_s=0.2, message="selling again")
        wait_until(
            lambda: server.status()["breaker"] == "closed",
            RECOVERY_TIMEOUT_S,
            message="the breaker closed",
        )
        rest = [user for user in shoppers if user not in sold]
        answers = keep_buying(server.url, rest)
        assert {answer.status for answer in answers} <= {201, 410}, _examples(answers)
        sold |= {a.user_id: a.body["orderId"] for a in answers if a.status == 201 and a.body}
        assert len(sold) == SMALL_DISK_STOCK, "the stock, not the disk, ended the sale"
        assert server.status()["sold"] == SMALL_DISK_STOCK
        health = _raw_health(server).json()
        assert health["allocator"]["pid"] == allocator, "the allocator was restarted"
        assert health["allocator"]["restarts"] == 0
    assert journal_orders(server.db_path) == sold
    assert "Traceback" not in server.log()


def _sold_or_not_selling(answers: list[Answer]) -> dict[str, str]:
    """The users sold to (user -> order id); every other answer must be the fast 503 of a
    journal that cannot be written."""
    sold: dict[str, str] = {}
    for answer in answers:
        if answer.status == 201 and answer.body:
            sold[answer.user_id] = answer.body["orderId"]
            continue
        assert answer.status == 503, _examples([answer])
        assert answer.body and answer.body["title"] == "Not selling", _examples([answer])
        assert "journal cannot be written" in answer.body["detail"]
        assert answer.retry_after is not None and int(answer.retry_after) >= 1
    return sold


def _examples(answers: list[Answer]) -> str:
    odd = [a for a in answers if a.status not in (201, 410)]
    return f"{len(odd)} unexpected answers, e.g. {odd[:3]}"


def _free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
