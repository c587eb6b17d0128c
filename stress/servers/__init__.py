"""The servers the toolkit and the tests start: real gunicorn servers of the flash sale
and of the trivial reference app, and redis-server."""
