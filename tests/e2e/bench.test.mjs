// The benchmark's tools that build from a patched copy of the source: bench/stages.sh applies
// bench/early-return.patch to HEAD, so a change to the code it patches must carry the patch along.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";

// Skipped, and counted as skipped, where there is no git or no checkout to apply it to.
const inGit = spawnSync("git", ["rev-parse", "--is-inside-work-tree"], { encoding: "utf8" }).stdout?.trim() === "true";

test("bench/early-return.patch applies to the current source", { skip: !inGit && "not a git checkout" }, () => {
  // --check touches nothing; it fails with the first hunk that no longer fits.
  assert.doesNotThrow(() => execFileSync("git", ["apply", "--check", "bench/early-return.patch"], { stdio: "pipe" }));
});
