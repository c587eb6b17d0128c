from __future__ import annotations

import socket

from flashsale.gunicorn_worker import ACCEPT_BATCH, accept_share, waiting_connections


def test_a_tcp_listener_reports_its_accept_queue(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        clients = [socket.create_connection(listener.getsockname()) for _ in range(5)]
        try:
            assert waiting_connections(listener) == 5
            listener.accept()[0].close()
            assert waiting_connections(listener) == 4
        finally:
            for client in clients:
                client.close()
    with socket.socket(socket.AF_UNIX) as unix_listener:
        unix_listener.bind(str(tmp_path / "s.sock"))
        unix_listener.listen(8)
        assert waiting_connections(unix_listener) is None


def test_a_wake_up_takes_an_even_share_of_the_waiting_connections():
    assert accept_share(64, 2) == 32  # a client's 64 connections: half for each worker
    assert accept_share(5, 2) == 3
    assert accept_share(0, 4) == 1  # gthread's own behaviour: one at a time
    assert accept_share(5000, 2) == ACCEPT_BATCH  # a burst drains in large bites
    assert accept_share(None, 2) == ACCEPT_BATCH
