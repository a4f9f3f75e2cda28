# Shared by scripts/serve and scripts/test: make .venv and install blockpost into it.
# Re-installs only when pyproject.toml changed since the last install.

# Progress goes to stderr, so that what a command prints on stdout stays its own.
say() {
    echo "scripts: $*" >&2
}

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
    if [ ! -x "$venv/bin/python" ]; then
        say "making a virtual environment in $venv with $("$python" --version 2>&1)"
        "$python" -m venv "$venv"
    fi
    stamp="$venv/.installed${extras:+-$extras}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        say "updating pip in $venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        say "installing blockpost${extras:+ with its $extras extras} and its dependencies" \
            "into $venv (about a minute the first time; pip's own output is hidden)"
        "$venv/bin/python" -m pip install --quiet --editable ".${extras:+[$extras]}"
        touch "$stamp"
        say "installed; $venv/bin/blockpost is the command"
    fi
    VENV="$venv"
}
