# Shared set-up for bin/dashboard and bin/test (sourced, not run).
# Finds a Python >= 3.12 on its own, builds the project virtual environment in .venv from the
# lock file and re-installs only when the lock changes.
set -euo pipefail

PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$PROJECT_ROOT/.venv"
export PYTHONDONTWRITEBYTECODE=1

python_is_recent() {
    # A pyenv shim for an unselected version exists but fails to run: actually run it.
    "$1" -c 'import sys; sys.exit(0 if (3, 12) <= sys.version_info[:2] < (3, 14) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in "${DASHBOARD_PYTHON:-}" python3.12 python3.13 python3 \
        "$HOME"/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3 \
        /root/.pyenv/versions/3.12*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3 \
        /usr/local/bin/python3.12 /usr/local/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.13; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && python_is_recent "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "error: no Python 3.12 or 3.13 found; install one or set DASHBOARD_PYTHON=/path/to/python3.12" >&2
    return 1
}

ensure_venv() {
    local lock="$1"
    local stamp="$VENV/.installed-$(basename "$lock")"
    local digest
    digest="$(cat "$lock" "$PROJECT_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$VENV/bin/python" ] || ! python_is_recent "$VENV/bin/python"; then
        local python
        python="$(find_python)"
        echo "==> creating .venv with $python" >&2
        rm -rf "$VENV"
        "$python" -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
        echo "==> installing locked dependencies from $(basename "$lock")" >&2
        "$VENV/bin/python" -m pip install -qq --upgrade pip >&2
        "$VENV/bin/python" -m pip install -qq -r "$lock" >&2
        "$VENV/bin/python" -m pip install -qq --no-deps -e "$PROJECT_ROOT" >&2
        echo "$digest" >"$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}
