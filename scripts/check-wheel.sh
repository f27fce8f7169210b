#!/usr/bin/env bash
# A user's install, not the developer's: build a wheel, install it into a fresh virtual environment outside
# the checkout, and from another directory build a small model set and answer one utterance.
# Also checks that site-packages holds hotline/ and no generic top-level package of ours.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
work=$(mktemp -d /tmp/hotline-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "==> building the wheel"
"$VENV/bin/pip" wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$work/dist" . >/dev/null
rm -rf build
wheel=$(ls "$work"/dist/hotline-*.whl)
echo "    $(basename "$wheel")"

echo "==> installing it into a fresh venv ($work/venv)"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0  # the CPU wheel (see scripts/setup.sh)
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel"

site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for name in models index eval pipeline serve training data core; do
  if [ -e "$site/$name" ]; then
    echo "FAIL: site-packages holds a top-level '$name' ($site/$name)" >&2
    exit 1
  fi
done
echo "    site-packages: hotline/ and no top-level models, index, eval, pipeline, serve, training"

echo "==> hotline build (small corpus) and hotline assist, from another directory"
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
export HOTLINE_HOME="$work/home"
"$work/venv/bin/hotline" build --per-code 20 --call-per-code 8
out=$("$work/venv/bin/hotline" assist "我家宽带从昨天开始就连不上了，光猫一直亮红灯，我电话是13812345678")
echo "$out" | "$work/venv/bin/python" -c '
import json, sys
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
assert r["label"].startswith("broadband."), r["label"]
assert "13812345678" not in json.dumps(r, ensure_ascii=False), "raw phone number in the assist result"
assert r["faqs"], "no FAQ hits"
print("    assist:", r["label"], r["confidence"], "| first FAQ:", r["faqs"][0]["id"])
'
echo "==> wheel check passed"
