"""Gunicorn settings for the flash sale service; the hooks call into flashsale.lifecycle.

Every value comes from flashsale.config.Settings (FLASHSALE_* and WEB_CONCURRENCY).
The limits are deliberate; docs/operations.md, "Tuning workers and limits", explains each.
"""

from flashsale import lifecycle

settings = lifecycle.settings_or_exit()

wsgi_app = "flashsale.asgi:app"
bind = [settings.bind]
workers = settings.workers
# gunicorn's asgi worker on uvloop, kept to the backlog below (flashsale.serving.worker).
worker_class = "flashsale.serving.worker.FlashSaleWorker"
# The C parser (gunicorn_h1c), required: never a silent fall-back to the Python one.
http_parser = "fast"
# Open connections per worker, enforced by our protocol (503 beyond it).
worker_connections = settings.worker_connections
backlog = settings.backlog
# How long the event loop may go without reporting before the master kills the
# worker; far above the purchase reply timeout, which never blocks the loop.
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
max_requests = settings.max_requests
max_requests_jitter = settings.max_requests // 4
preload_app = False
loglevel = settings.log_level
accesslog = None
# The proxies whose X-Forwarded-For the app believes (flashsale.api.client_address).
forwarded_allow_ips = ",".join(settings.forwarded_allow_ips)
# By default gunicorn lets a trusted proxy set SCRIPT_NAME and PATH_INFO by
# header (on gthread that re-routed a status URL to the HTML page): we need neither.
forwarder_headers = ""
# The control socket defaults to one path per user: two servers would fight over it.
control_socket_disable = True
proc_name = "flashsale"

on_starting = lifecycle.on_starting
when_ready = lifecycle.when_ready
pre_fork = lifecycle.pre_fork
post_fork = lifecycle.post_fork
child_exit = lifecycle.child_exit
on_exit = lifecycle.on_exit
on_reload = lifecycle.on_reload
