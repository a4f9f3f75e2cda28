# Shared by scripts/serve and scripts/test: make .venv and install blockpost into it.
# Re-installs only when pyproject.toml changed since the last install.

find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "blockpost needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

ensure_venv() {
    local extras="$1" venv="${BLOCKPOST_VENV:-.venv}" python stamp
    python=$(find_python)
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    stamp="$venv/.installed${extras:+-$extras}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet --editable ".${extras:+[$extras]}"
        touch "$stamp"
    fi
    VENV="$venv"
}
