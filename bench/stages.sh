#!/usr/bin/env bash
# Where a delivery's CPU goes, stage by stage: builds of webim-edge that answer at once after one
# more stage (routing; reading the body; decoding the parameters; checking the Webim signature;
# cleaning the chat; building the event; signing the attempt), measured with bench/loop.mjs beside
# the full build, so the HTTP around a delivery does not drown them. bench/early-return.patch adds
# the stops behind the compile-time variable EDGE_STOP; it is applied to a scratch copy of HEAD
# under target/, never to the working tree. Each stop's figure less the previous one's is that
# stage's cost.
#   usage: bash bench/stages.sh [--transport form|query] [other bench/loop.mjs arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
scratch=target/stages
stops=(route body params verify clean intake signed)
rm -rf "$scratch"
git worktree prune
git worktree add --detach "$scratch/tree" HEAD >/dev/null
trap 'git worktree remove --force "$scratch/tree"' EXIT
git -C "$scratch/tree" apply "$PWD/bench/early-return.patch"
# The packages, as hard links (no copy, and a reinstall there could not touch these), dated so
# that the scratch copy's bootstrap sees them as current.
cp -al node_modules "$scratch/tree/node_modules"
touch -r node_modules/.package-lock.json "$scratch/tree/package-lock.json"
builds=()
for stop in "${stops[@]}"; do
  (cd "$scratch/tree" && EDGE_STOP=$stop CARGO_TARGET_DIR="$PWD/../cargo" bash scripts/build.sh 2>/dev/null)
  cp -r "$scratch/tree/build" "$scratch/$stop"
  builds+=("$scratch/$stop")
done
bash scripts/build.sh
node bench/loop.mjs --workers empty,floor,edge --baseline "$(IFS=,; echo "${builds[*]}")" "$@"
