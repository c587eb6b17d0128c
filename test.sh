#!/usr/bin/env bash
# Run every test: the UI's lint, type check and unit tests, ruff and mypy on the
# Python, then pytest (unit, integration against real gunicorn servers, stress
# toolkit, and the browser tests in headless Chromium). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh test

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test.sh: installing Debian's chromium for the browser tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

npm --prefix webui run check --silent
"$VENV/bin/ruff" check flashsale stress tests gunicorn.conf.py
"$VENV/bin/ruff" format --check --quiet flashsale stress tests gunicorn.conf.py
"$VENV/bin/mypy" flashsale stress
"$VENV/bin/python" -m pytest "$@"
