"""gunicorn.conf.py with one worker whose boot pauses after gunicorn's post_fork hook,
until the test creates a release file: for the worker-boot tests.

The first worker to boot (it claims the marker file, writing its pid there) waits
in the window between the fork and the worker's own signal handlers, where a
signal is caught by the master's handlers it inherited. Later workers boot at once.
"""

import os
import runpy
import time
from pathlib import Path

_server_conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
globals().update({name: value for name, value in _server_conf.items() if not name.startswith("_")})

_RELEASE_WAIT_S = 120.0


def post_fork(server, worker):
    _server_conf["post_fork"](server, worker)
    folder = Path(os.environ["FLASHSALE_TEST_BOOT_DIR"])
    try:
        marker = os.open(folder / "paused", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # a later worker: it boots at once
    os.write(marker, str(os.getpid()).encode())
    os.close(marker)
    deadline = time.monotonic() + _RELEASE_WAIT_S
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
