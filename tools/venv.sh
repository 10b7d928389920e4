#!/usr/bin/env bash
# Create or repair the course's virtual environment; called by `make book` and `make test`.
#   - .venv missing or broken (its python does not run, or s2slide does not import): recreate it.
#   - requirements.txt or pyproject.toml changed since the last complete install: install again.
#   - an install that was interrupted never wrote the stamp, so it is redone, not trusted.
# Usage: tools/venv.sh PYTHON VENV
set -euo pipefail
PYTHON=${1:-python3.11}
VENV=${2:-.venv}
STAMP="$VENV/.s2slide-installed"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON was not found. The course needs Python 3.11:" >&2
  echo "  install it (e.g. 'pyenv install 3.11' or 'apt-get install python3.11')," >&2
  echo "  or point make at one: make book PYTHON=/path/to/python3.11" >&2
  exit 1
fi
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
  echo "error: $PYTHON is Python $version; the pinned environment is tested on Python 3.11." >&2
  echo "  run: make book PYTHON=/path/to/python3.11" >&2
  exit 1
fi

want=$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-64)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
   && "$VENV/bin/python" -c 'import s2slide, sphinx, nbval' >/dev/null 2>&1; then
  echo "environment $VENV is up to date"
  exit 0
fi

if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "creating $VENV with $PYTHON"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
rm -f "$STAMP"
echo "installing the pinned packages into $VENV (a few minutes the first time)"
start=$(date +%s)
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r requirements.txt 2>"$VENV/pip-error.log" \
   || ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e . 2>>"$VENV/pip-error.log"; then
  grep -v '^WARNING' "$VENV/pip-error.log" | tail -n 15 >&2
  echo "error: installing the pinned packages failed (full log: $VENV/pip-error.log)." >&2
  echo "  - no access to the package index? check your network or set PIP_INDEX_URL to a mirror;" >&2
  echo "  - then run the same make command again: the install is redone, never taken as complete." >&2
  exit 1
fi
echo "$want" > "$STAMP"
echo "installed in $(( $(date +%s) - start )) s"
