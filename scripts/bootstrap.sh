# Sourced by start.sh and test.sh: a virtualenv with the project, and the built UI.
# Needs only python3, node and npm; repeated runs skip what is already done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FLASHSALE_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp="$VENV/.flashsale-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  echo "bootstrap: installing Python packages into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -e "$ROOT${EXTRAS:+[$EXTRAS]}"
  touch "$stamp"
fi

webui="$ROOT/webui"
if [ ! -d "$webui/node_modules" ] || [ "$webui/package-lock.json" -nt "$webui/node_modules/.package-lock.json" ]; then
  echo "bootstrap: installing the UI's npm packages (npm ci)" >&2
  npm ci --prefix "$webui" --no-audit --no-fund --loglevel=error
fi
ui_inputs=("$webui/src" "$webui/public" "$webui/index.html" "$webui/docs.html" "$webui/vite.config.ts" "$webui/package-lock.json")
if [ ! -f "$webui/dist/index.html" ] || [ -n "$(find "${ui_inputs[@]}" -newer "$webui/dist/index.html" -print -quit 2>/dev/null)" ]; then
  echo "bootstrap: building the UI" >&2
  npm --prefix "$webui" run build --silent >/dev/null
fi
