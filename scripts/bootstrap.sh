# Installs what building and testing webim-edge needs, skipping whatever is already there at
# the right version. Sourced by the other scripts.
#   the wasm32 target · wasm-bindgen-cli = the wasm-bindgen version in Cargo.lock · npm
#   packages from package-lock.json (wasm-opt comes with binaryen; puppeteer-core) · php-cli and
#   chromium (apt-get)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

command -v cargo >/dev/null || { say "cargo not found: install Rust with rustup first"; exit 1; }
command -v npm >/dev/null || { say "npm not found: install Node.js 20 or later first"; exit 1; }

# The version of a package as Cargo.lock records it.
locked() { awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock; }
[ -f Cargo.lock ] || cargo generate-lockfile
BINDGEN_VERSION="$(locked wasm-bindgen)"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# --locked is not used: one of the CLI's locked dependencies is not in the registry.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $NF}')" != "$BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" --force
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

# PHP runs the example Webim receiver (examples/php) in the e2e tests. Installed where apt-get
# can (root); elsewhere those tests are reported as skipped.
if ! command -v php >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  say "installing php-cli (the example receiver's runtime)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq php-cli; } >/dev/null 2>&1 \
    || say "php-cli could not be installed: the PHP receiver tests will be skipped"
fi

# Chromium runs the operator console's browser tests (tests/e2e/console.test.mjs, driven by
# puppeteer-core, which never downloads a browser of its own). Installed where apt-get can
# (root); elsewhere those tests are reported as skipped.
if ! command -v chromium >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing chromium (the console's browser tests; a few minutes, once)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
      || say "chromium could not be installed: the console's browser tests will be skipped"
  else
    say "chromium is not on PATH and cannot be installed here (that needs apt-get as root): the console's browser tests will be skipped"
  fi
fi

export PATH="$ROOT/node_modules/.bin:$PATH"
for tool in wasm-bindgen wasm-opt; do
  command -v "$tool" >/dev/null || { say "missing $tool"; exit 1; }
done
