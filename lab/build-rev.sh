#!/usr/bin/env bash
# Builds a committed revision of webim-edge into a directory of its own, for the lab to measure
# while the working tree and build/ go on changing: the revision's files (git archive) are
# built by the revision's own scripts/build.sh in target/lab/, with a cargo target directory
# of the lab's own, and its build/ is copied to DIR (inside the project, so that a lab worker's
# modules' root holds it). Measure it as webim-edge with EDGE_BUILD=DIR, or beside another
# build with --baseline DIR.
#   usage: bash lab/build-rev.sh [REV (HEAD)] [DIR (target/lab/build-<short rev>)]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
REV="$(git rev-parse --verify "${1:-HEAD}^{commit}")"
SHORT="$(git rev-parse --short "$REV")"
DIR="${2:-target/lab/build-$SHORT}"
SRC="target/lab/src-$SHORT"
CARGO="$ROOT/target/lab/cargo"

# The first time, the lab's cargo directory starts from the project's release artifacts, so
# that only the crate itself is compiled.
if [ ! -d "$CARGO" ]; then
  mkdir -p "$CARGO"
  for d in release wasm32-unknown-unknown/release; do
    [ -d "target/$d" ] && mkdir -p "$CARGO/$(dirname "$d")" && cp -r "target/$d" "$CARGO/$d"
  done
fi

rm -rf "$SRC"
mkdir -p "$SRC"
git archive "$REV" | tar -x -C "$SRC"
# scripts/build.sh reads the wasm from target/: the copy's target/ is the lab's cargo directory.
ln -s "$CARGO" "$SRC/target"
# The revision's build steps, with this checkout's tools in place of its bootstrap (which
# would install npm packages into the copy).
cat >"$SRC/scripts/bootstrap.sh" <<'EOF'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EOF
(cd "$SRC" && bash scripts/build.sh)
rm -rf "$DIR"
mkdir -p "$(dirname "$DIR")"
cp -r "$SRC/build" "$DIR"
echo "$REV" >"$DIR/REVISION"
printf '[build-rev] %s built into %s\n' "$SHORT" "$DIR" >&2
