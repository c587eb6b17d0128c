#!/usr/bin/env bash
# Start the flash sale service with its UI: http://127.0.0.1:8000 (FLASHSALE_BIND to change).
# Installs what it needs on first run (a .venv and the built UI); every setting
# has an embedded default, see docs/configuration.md.
set -euo pipefail
cd "$(dirname "$0")"
# With the stress toolkit's packages: `python -m stress` works against it at once.
source scripts/bootstrap.sh stress
mkdir -p var
exec "$VENV/bin/gunicorn" -c gunicorn.conf.py
