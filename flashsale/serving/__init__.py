"""The serving layer: gunicorn 27's asgi worker on uvloop with the C parser, made safe for us."""
