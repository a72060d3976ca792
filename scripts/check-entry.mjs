// Build-time check of what webim-edge's own entry (src/shell/entry.mjs) relies on in
// worker-build's generated module: the class's handlers and its record of a critical error. A
// future worker-build that changes either fails the build here, with this message, instead of
// silently changing how traps are recovered from.
import { readFileSync } from "node:fs";

const generated = readFileSync(new URL("../build/index.js", import.meta.url), "utf8");
const expectations = [
  ["the default export is worker-build's entrypoint class", /export\s*\{[^}]*\bas default\b[^}]*\}/],
  ["its prototype has the fetch handler", /\.prototype\.fetch\s*=\s*function/],
  ["its prototype has the queue handler", /\.prototype\.queue\s*=\s*function/],
  // The direct path's steps are called with their own arguments, so they must stay plain
  // functions (the handlers above read env and ctx from `this` instead).
  ["its prototype has the direct path's start, as a plain function", /\.prototype\.start\s*=\s*[\w$]+\s*[;,]/],
  ["its prototype has the direct path's answered, as a plain function", /\.prototype\.answered\s*=\s*[\w$]+\s*[;,]/],
  ["the record of a critical error is globalThis.__worker_init_state", /globalThis\.__worker_init_state\s*=\s*\{\s*criticalError\s*:/],
];
const missing = expectations.filter(([, pattern]) => !pattern.test(generated));
if (missing.length > 0) {
  console.error("[build] build/index.js no longer has what src/shell/entry.mjs relies on:");
  for (const [what] of missing) console.error(`[build]   - ${what}`);
  console.error("[build] check src/shell/entry.mjs against this worker-build version before shipping.");
  process.exit(1);
}
