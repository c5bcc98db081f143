#!/usr/bin/env bash
# One entry point for a fresh machine (see README "Quick start"):
#   ./run.sh samples   set up, then validate and package every course in sample_courses/ into build/
#   ./run.sh test      set up (with test tools: Chromium, fonts, npm packages), then lint and run the whole suite
# Both are idempotent: a second run reuses .venv and skips installs that are already there.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=${LOCALMOOC_VENV:-$ROOT/.venv}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

is_py312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

# A Python >= 3.12: $PYTHON if set, then PATH, then pyenv's installed versions (whose shims answer only
# with PYENV_VERSION set), newest first.
find_python() {
    local cand v
    if [ -n "${PYTHON:-}" ]; then is_py312 "$PYTHON" && { echo "$PYTHON"; return; }; die "PYTHON=$PYTHON is not Python >= 3.12"; fi
    for cand in python3.14 python3.13 python3.12 python3 python; do
        if command -v "$cand" >/dev/null 2>&1 && is_py312 "$cand"; then command -v "$cand"; return; fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])(\.[0-9]+)?$' | sort -t. -k1,1n -k2,2n -k3,3n -r); do
            cand=$(PYENV_VERSION=$v pyenv which python 2>/dev/null || true)
            if [ -n "$cand" ] && is_py312 "$cand"; then echo "$cand"; return; fi
        done
    fi
    die "no Python 3.12 or newer found on PATH or in pyenv. Install one, e.g. 'apt-get install python3.12 python3.12-venv' (Debian 13 / Ubuntu 24.04), 'pyenv install 3.12', or from python.org; or set PYTHON=/path/to/python3.12"
}

setup_venv() {
    local extras=$1 stamp="$VENV/.installed-$1"
    if [ ! -x "$VENV/bin/python" ] || ! is_py312 "$VENV/bin/python"; then
        local py; py=$(find_python)
        say "creating $VENV with $py ($("$py" -V 2>&1))"
        rm -rf "$VENV"
        "$py" -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip 2>/dev/null
    fi
    # Reinstall only when the project's metadata changed since the last install.
    # The example third-party XBlock (examples/flashcards) is installed too: sample_courses/flashcards-demo
    # uses it, as a designer's course would use any installed block.
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ examples/flashcards/pyproject.toml -nt "$stamp" ]; then
        say "installing localmooc-packager$extras and examples/flashcards into $VENV"
        if ! "$VENV/bin/python" -m pip install -q -e ".$extras" -e examples/flashcards >"$VENV/pip.log" 2>&1; then
            tail -n 30 "$VENV/pip.log" >&2
            die "installing the package failed (full log: $VENV/pip.log)"
        fi
        touch "$stamp"
    fi
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# Debian packages the browser tests and Thai PDFs need; installed only when missing.
setup_system() {
    local missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    [ -d /usr/share/fonts/truetype/tlwg ] || missing+=(fonts-thai-tlwg-ttf)
    [ -f /usr/share/fonts/truetype/tlwg/Laksaman.ttf ] || missing+=(fonts-tlwg-laksaman-ttf)
    command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
    # zbarimg: the certificate browser test decodes the QR code from the rasterised PDF.
    command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
    command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
    # haproxy: deploy/haproxy.cfg is checked with `haproxy -c` (tests/test_xapi_deploy.py).
    command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
    # pgbouncer: tests/test_pgbouncer.py and tests/test_multinode.py run the runtime through it
    # (transaction mode), started by the tests with their own config and port.
    [ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
    # zip: the peer of the SCORM build in benchmarks/bench_shapes.py (tests/test_bench_shapes.py runs it).
    command -v zip >/dev/null 2>&1 || missing+=(zip)
    if [ ${#missing[@]} -gt 0 ]; then
        command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]}: install them with your system's package manager"
        say "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # npm packages used by the tests (scorm-again as the SCORM runtime); versions pinned in package-lock.json.
    if [ ! -d node_modules/scorm-again ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        say "installing npm packages (scorm-again)"
        npm ci --no-audit --no-fund --silent
    fi
}

# Ralph, a real LRS for the xAPI tests. It has its own venv: its pins (pydantic, fastapi) are not ours.
RALPH_VENV=${LOCALMOOC_RALPH_VENV:-$ROOT/.venv-ralph}
RALPH_PIN="ralph-malph[cli,lrs]==5.1.0"
setup_ralph() {
    local stamp="$RALPH_VENV/.installed-5.1.0"
    [ -f "$stamp" ] && return
    local py; py=$(find_python)
    say "creating $RALPH_VENV with $RALPH_PIN (the LRS the xAPI tests deliver to)"
    rm -rf "$RALPH_VENV"
    "$py" -m venv "$RALPH_VENV"
    # requests: imported by Ralph's API (its OIDC module) but not declared by its extras.
    if ! "$RALPH_VENV/bin/python" -m pip install -q "$RALPH_PIN" requests >"$RALPH_VENV/pip.log" 2>&1; then
        tail -n 30 "$RALPH_VENV/pip.log" >&2
        die "installing Ralph failed (full log: $RALPH_VENV/pip.log)"
    fi
    touch "$stamp"
}

cmd=${1:-}
case "$cmd" in
    samples)
        setup_venv ""
        "$VENV/bin/localmooc" samples sample_courses -o build
        ;;
    test)
        setup_venv "[test]"
        setup_system
        setup_ralph
        export LOCALMOOC_RALPH_VENV=$RALPH_VENV
        say "ruff"
        # Two commands, not an && list: set -e does not stop on a failure inside one.
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        say "mypy --strict (the public API modules; see [tool.mypy] in pyproject.toml)"
        "$VENV/bin/mypy"
        say "pytest"
        shift
        "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./run.sh samples | ./run.sh test [pytest args]" >&2; exit 2 ;;
esac
