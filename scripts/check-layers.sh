#!/usr/bin/env bash
# The layers contract (pyproject.toml [tool.importlinter]) checked by import-linter.
# import-linter reads the package tree from disk, and the editable install maps hotline.models & co. to the
# design card's top-level folders, so the check runs on a plain install of the package in a scratch folder.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation --target "$tmp/site" . >/dev/null
rm -rf build  # setuptools' scratch folder
# contracts from this pyproject.toml; the package from the scratch install (run there, so the checkout's own
# hotline/ folder is not on the path)
cfg="$PWD/pyproject.toml"
bin="$PWD/$VENV/bin/lint-imports"
(cd "$tmp/site" && PYTHONPATH="$tmp/site" "$bin" --config "$cfg" "$@")
