#!/usr/bin/env bash
# The PostgreSQL tests start a throw-away server from Debian's postgresql package (no Docker, no mock).
# This installs the package when it is missing; the tests skip, saying why, when it cannot be installed.
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian postgresql for the PostgreSQL tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "warning: could not install postgresql; the PostgreSQL tests will be skipped"
  # the package starts a cluster of its own; the tests use their own, so stop it
  (command -v pg_ctlcluster >/dev/null && pg_ctlcluster --force "$(ls /etc/postgresql | head -1)" main stop) >/dev/null 2>&1 || true
else
  echo "note: PostgreSQL not found and not root; install Debian's 'postgresql' package to run the PostgreSQL tests"
fi
exit 0
