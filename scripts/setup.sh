#!/usr/bin/env bash
# Create the virtual environment with CPU-only PyTorch and Hotline installed (editable).
# torch is pinned to 2.13.0: that CPU wheel is what this machine has; an unpinned torch pulls GBs of CUDA.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "==> installing CPU-only torch==2.13.0"
"$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0
echo "==> installing hotline and its dependencies"
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev,ray]'  # ray: CI runs the local == Ray engine test
echo "==> done: $VENV/bin/hotline"
