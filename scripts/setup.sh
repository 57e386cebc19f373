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
# The demos' browser test (tests/test_browser_demo.py) drives the system Chromium through Playwright (Playwright's
# own browser download cannot work offline). Install Debian's package where it is missing and apt can (root);
# elsewhere say so and go on: the test then skips and names the reason.
if ! command -v chromium >/dev/null 2>&1 && [ "${SAM_REPRO_NO_APT:-0}" != "1" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "installing chromium (Debian package) for the demos' browser test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
      >/dev/null) || echo "warning: apt-get could not install chromium; the browser test will be skipped" >&2
  else
    echo "note: no chromium and no root apt-get here; the demos' browser test will be skipped" >&2
  fi
fi
.venv/bin/python -c "import sam_repro, segment_anything, open_clip; print('sam-repro', sam_repro.__version__, 'ready in .venv')"
