"""The ASGI app gunicorn loads in each worker (after fork, from the master's state)."""

from __future__ import annotations

from flashsale.lifecycle import worker_app

app = worker_app()
