"""gunicorn settings of the trivial reference app: the server's own, without its hooks.

Every setting of gunicorn.conf.py (worker class, workers, backlog, keep-alive,
limits, the C parser) applies as it is, so that the two are served alike; the
hooks, which start the allocator and shared memory, do not.
"""

import runpy
from pathlib import Path
from types import FunctionType, ModuleType

_server = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
globals().update(
    {
        name: value
        for name, value in _server.items()
        if not name.startswith("_") and not isinstance(value, FunctionType | ModuleType)
    }
)

wsgi_app = "stress.servers.reference_app:app"
proc_name = "flashsale-reference"
