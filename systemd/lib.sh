# shellcheck shell=bash
# Shared by install-station.sh and install-district.sh, which source it from their own
# directory (they run from a checkout, so it is always beside them). Defines functions only.

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# require_install_context REPO PYTHON: root, a Commune Radio checkout, a usable Python.
require_install_context() {
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
    [ -f "$1/pyproject.toml" ] || die "$1 is not a Commune Radio checkout"
    [ -x "$2" ] || die "$2 not found (apt-get install python3 python3-venv, or set PYTHON=...)"
}

# install_code REPO PREFIX PYTHON EXTRA [VENV_OPTION...]: copy the checkout (without VCS, venv
# and caches) into PREFIX/src, swapped in whole; create PREFIX/.venv with PYTHON and the venv
# options if absent; pip-install the code into it with the program's extra (station or
# district, see pyproject.toml), so a Pi gets no PDF library and the server no GPIO one.
install_code() {
    local repo="$1" prefix="$2" python="$3" extra="$4"
    shift 4
    say "installing the code into $prefix"
    install -d -m 0755 "$prefix"
    if [ "$repo" != "$prefix/src" ]; then
        rm -rf "$prefix/src.new"
        mkdir -p "$prefix/src.new"
        tar -C "$repo" --exclude=.git --exclude=.venv --exclude='*.egg-info' --exclude=__pycache__ \
            --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache -cf - . \
            | tar -C "$prefix/src.new" -xf -
        rm -rf "$prefix/src"
        mv "$prefix/src.new" "$prefix/src"
    fi
    if [ ! -x "$prefix/.venv/bin/python" ]; then
        "$python" -m venv "$@" "$prefix/.venv"
    fi
    "$prefix/.venv/bin/pip" install -q --upgrade pip
    "$prefix/.venv/bin/pip" install -q --upgrade "$prefix/src[$extra]"
}
