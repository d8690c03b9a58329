#!/usr/bin/env bash
# `npm test` entry point.
#   scripts/test.sh [runner flags...] [test files...]
# Flags (arguments starting with '-', use the --flag=value form) go to `node --test`; files
# default to every *.test.ts under src/ and test/ (Node 20's runner does not expand globs).
#
# Starts one throwaway PostgreSQL for the whole run and exports EARSHOT_TEST_DATABASE_URL, so
# the concurrently running test-file processes share it instead of each starting their own;
# it is stopped on exit however the run ends. Set EARSHOT_TEST_DATABASE_URL yourself to use
# an existing server instead.
set -euo pipefail
cd "$(dirname "$0")/.."

flags=()
files=()
for arg in "$@"; do
  if [[ "$arg" == -* ]]; then flags+=("$arg"); else files+=("$arg"); fi
done
if [ "${#files[@]}" -eq 0 ]; then
  mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "test.sh: no test files found" >&2
  exit 1
fi

pg_dir=""
stop_pg() {
  if [ -n "$pg_dir" ]; then
    node --import tsx test/support/postgres-cli.ts stop "$pg_dir" || true
  fi
}
trap stop_pg EXIT
# Turn signals into a normal exit so the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${EARSHOT_TEST_DATABASE_URL:-}" ]; then
  # Capture first: a failing start must fail the script (eval "$(...)" would hide it).
  pg_env="$(node --import tsx test/support/postgres-cli.ts start --owner-pid $$)"
  eval "$pg_env"
  pg_dir="$EARSHOT_TEST_PG_DIR"
fi

status=0
node --import tsx --test --test-concurrency=2 --test-timeout=1200000 \
  ${flags[@]+"${flags[@]}"} "${files[@]}" || status=$?
exit "$status"
