#!/usr/bin/env bash
# npm run fuzz [-- SECONDS [TARGET...]]: runs each cargo-fuzz target for SECONDS (default 300),
# one after another, and prints executions and findings. Each target starts from its curated
# seeds (fuzz/seeds/<target>, tracked) plus whatever corpus earlier runs generated on this
# machine (fuzz/corpus/<target>, not tracked); inputs that add coverage are merged into the
# latter. A crash is copied to fuzz/regressions/<target>/, which `cargo test` replays
# (src/fuzzing.rs): commit it with the fix. Not part of npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
seconds="${1:-300}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(params signature clean sanitize timestamp pipeline)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
# Address sanitizer needs a nightly compiler; the code is safe Rust, so libFuzzer's own panic
# and timeout detection is what matters here.
flags=(--sanitizer none -O)
cd fuzz
cargo fuzz build "${flags[@]}" >/dev/null
for target in "${targets[@]}"; do
  mkdir -p "work/$target" "corpus/$target" "seeds/$target"
  log="work/$target.log"
  status=0
  # libFuzzer writes new inputs to the first folder and reads the others.
  cargo fuzz run "${flags[@]}" "$target" "work/$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  if [ "$status" -ne 0 ]; then
    mkdir -p "regressions/$target"
    for crash in artifacts/"$target"/*; do [ -f "$crash" ] && cp "$crash" "regressions/$target/"; done
    echo "fuzz $target: FAILED after $execs executions — input kept in fuzz/regressions/$target; see fuzz/$log"
  else
    cargo fuzz run "${flags[@]}" "$target" -- -merge=1 "corpus/$target" "seeds/$target" "work/$target" >/dev/null 2>&1 || true
    echo "fuzz $target: ${seconds}s, $execs executions, no failure; generated corpus fuzz/corpus/$target (not tracked): $(ls "corpus/$target" | wc -l) inputs"
  fi
done
