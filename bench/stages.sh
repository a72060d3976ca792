#!/usr/bin/env bash
# Where a delivery's CPU goes, stage by stage: builds of webim-edge that answer early (after
# routing, after reading the body, after intake, after signing the attempt) measured beside the
# full build in one runtime-benchmark run. bench/early-return.patch adds the stops behind the
# compile-time variable EDGE_STOP; it is applied to a scratch copy of HEAD under target/, never to
# the working tree. Each stop's figure less the previous one's is that stage's cost.
#   usage: bash bench/stages.sh [--requests N] [--processes N]   (other bench/run.mjs arguments)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
scratch=target/stages
rm -rf "$scratch"
git worktree prune
git worktree add --detach "$scratch/tree" HEAD >/dev/null
trap 'git worktree remove --force "$scratch/tree"' EXIT
git -C "$scratch/tree" apply "$PWD/bench/early-return.patch"
# The packages, as hard links (no copy, and a reinstall there could not touch these), dated so
# that the scratch copy's bootstrap sees them as current.
cp -al node_modules "$scratch/tree/node_modules"
touch -r node_modules/.package-lock.json "$scratch/tree/package-lock.json"
for stop in route body intake signed; do
  (cd "$scratch/tree" && EDGE_STOP=$stop CARGO_TARGET_DIR="$PWD/../cargo" bash scripts/build.sh 2>/dev/null)
  cp -r "$scratch/tree/build" "$scratch/$stop"
done
bash scripts/build.sh
# A build that answers before reading the body leaves a form body unread, and workerd then
# resets the connection: the routing stop is measured with the query string only.
node bench/run.mjs --no-cold --transports query --workers empty,forward,floor,edge \
  --baseline "$scratch/route,$scratch/body,$scratch/intake,$scratch/signed" "$@"
node bench/run.mjs --no-cold --transports form --workers empty,forward,floor,edge \
  --baseline "$scratch/body,$scratch/intake,$scratch/signed" "$@"
