"""Real gunicorn servers for integration tests, always stopped by the test that started them."""

from __future__ import annotations

import pytest

from tests.support.server import ServerProcess


@pytest.fixture
def start_server(tmp_path):
    started: list[ServerProcess] = []

    def start(*, db_name: str = "journal.db", wait: bool = True, **kwargs) -> ServerProcess:
        server = ServerProcess(tmp_path / db_name, **kwargs)
        started.append(server)
        server.start(wait=wait)
        return server

    yield start
    failures = []
    for server in started:
        try:
            server.stop()
        except AssertionError as exc:
            failures.append(str(exc))
        finally:
            server.kill_group()
    assert not failures, failures
