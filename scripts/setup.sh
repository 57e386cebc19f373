#!/usr/bin/env bash
# Set up sam-repro on a CPU machine: a virtualenv in .venv with the pinned stack (constraints.txt
# keeps torch on its CPU build) and the package installed in editable mode with notebook and test
# extras. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[all]'
.venv/bin/python -c "import sam_repro, segment_anything, open_clip; print('sam-repro', sam_repro.__version__, 'ready in .venv')"
