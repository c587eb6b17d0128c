#!/usr/bin/env bash
# Run every test: the UI's lint, type check and unit tests, ruff and mypy on the
# Python, then pytest (unit, integration against real gunicorn servers, stress
# toolkit, and the browser tests in headless Chromium). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh test

# Debian packages the tests drive for real: chromium (the browser tests),
# redis-server (the Redis engine's tests) and prometheus (its promtool checks a
# scrape of /metrics); without root or apt-get, those tests skip.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v promtool >/dev/null || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test.sh: installing Debian's ${missing[*]} for the tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm --prefix webui run check --silent
"$VENV/bin/ruff" check flashsale stress tests scripts gunicorn.conf.py
"$VENV/bin/ruff" format --check --quiet flashsale stress tests scripts gunicorn.conf.py
"$VENV/bin/mypy" flashsale stress tests
"$VENV/bin/python" -m pytest "$@"
