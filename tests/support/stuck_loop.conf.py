"""gunicorn.conf.py with one worker whose event loop gets stuck: for the worker-timeout test.

The first worker to boot (it claims the marker file) blocks its event loop a
second later, as a blocking call in a request would. The master must kill it
after `timeout` and start another, which serves.
"""

import os
import runpy
import time
from pathlib import Path

_server_conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
globals().update({name: value for name, value in _server_conf.items() if not name.startswith("_")})

timeout = 3


def post_worker_init(worker):
    try:
        marker = os.open(
            os.environ["FLASHSALE_TEST_STUCK_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY
        )
    except FileExistsError:
        return  # a later worker: it serves
    os.write(marker, str(os.getpid()).encode())
    os.close(marker)
    worker.loop.call_later(1.0, time.sleep, 3600)
