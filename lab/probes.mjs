#!/usr/bin/env node
// Makes the probe copies of a build that docs/performance.md measures with lab/loop.mjs, each a
// copy of the build with one piece of its JavaScript changed, and an unchanged copy as control:
//   DIR-control       unchanged
//   DIR-hash-before   the helpers hash as webim-edge did before it kept to public APIs: the
//                     native hash and HMAC behind node:crypto's stream objects, reached through
//                     their kHandle symbol (git show dbec727:src/shell/runtime.mjs, chooseHashing)
//   DIR-entry-direct  the entry calls the wasm as the previous entry called worker-build's
//                     handlers: each call in a try/catch of its own, not through `guarded` and a
//                     closure per call
// Then, for example:
//   EDGE_BUILD=DIR-control node lab/loop.mjs --workers empty,edge --against edge \
//     --baseline DIR-control2,DIR-hash-before,DIR-entry-direct
//   usage: node lab/probes.mjs DIR   (DIR a copy of build/ inside the project, e.g. from
//                                     lab/build-rev.sh; the copies go beside it)
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2]?.replace(/\/+$/, "");
if (!dir || dir === "--help" || dir === "-h") {
  console.log(readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(1).filter((l) => l.startsWith("//")).map((l) => l.slice(3)).join("\n"));
  process.exit(dir ? 0 : 1);
}

/** `dir` copied to `dir-name`, with `edit(text)` applied to the file at `file` (relative). */
function probe(name, file, edit) {
  const to = `${dir}-${name}`;
  rmSync(to, { recursive: true, force: true });
  cpSync(dir, to, { recursive: true });
  if (file) {
    const path = join(to, file);
    const before = readFileSync(path, "utf8");
    const after = edit(before);
    if (after === before) throw new Error(`${name}: ${file} did not change; the build is not the one this probe was written for`);
    writeFileSync(path, after);
  }
  console.log(`[probes] ${to}`);
}

/** `text` with `from` replaced by `to`, which must be there. */
function replaced(text, from, to) {
  if (!text.includes(from)) throw new Error(`not found: ${from.split("\n")[0]}`);
  return text.replace(from, to);
}

// wasm-bindgen's copy of src/shell/runtime/helpers.mjs under snippets/.
const snippet = readdirSync(join(dir, "snippets"), { recursive: true }).find((f) => f.endsWith("runtime/helpers.mjs"));

const NATIVE = `// Probe: the previous path (git show dbec727:src/shell/runtime.mjs, chooseHashing): the native
// hash and HMAC behind node:crypto's stream objects, reached through kHandle.
const direct = (() => {
  const probe = createHash("sha256");
  const handle = Object.getOwnPropertySymbols(probe).find((symbol) => symbol.description === "kHandle");
  const NativeHash = probe[handle].constructor;
  const NativeHmac = createHmac("sha256", "key")[handle].constructor;
  if (NativeHash.name !== "HashHandle" || NativeHmac.name !== "HmacHandle") throw new Error("no native handles");
  const finish = (native, data) => {
    native.update(data);
    return new Uint8Array(native.digest());
  };
  return {
    digest: (algorithm, data) => finish(new NativeHash(algorithm, undefined), data),
    mac: (key, data) => finish(new NativeHmac("sha256", key), data),
  };
})();

export function sha256(data) {
  return direct.digest("sha256", data);
}

export function md5(data) {
  return direct.digest("md5", data);
}

export function hmacSha256(key, data) {
  return direct.mac(key, data);
}
`;

const DIRECT_START = `// Probe: the wasm called as the previous entry called worker-build's handlers, each call in a
// try/catch of its own instead of through \`guarded\` and a closure per call.
function start(request, env, body) {
  let step;
  try {
    step = wasm.start(request, env, body);
  } catch (error) {
    recover(error);
  }
  if (step === GENERAL) {
    try {
      return wasm.fetch(request, env, body).catch(recover);
    } catch (error) {
      recover(error);
    }
  }
  if (step === READ_BODY) return readThenStart(request, env);
  if (step instanceof Response) return step;
  const [token, posted] = step;
  return posted.then((answer) => {
    try {
      return wasm.answered(token, answer);
    } catch (error) {
      return recover(error);
    }
  });
}`;

probe("control");
probe("control2");
probe("hash-before", join("snippets", snippet), (text) => {
  const at = text.indexOf("/** SHA-256 of `data`");
  if (at < 0) throw new Error("hash-before: the helpers' hashing functions not found");
  return replaced(text.slice(0, at), 'import { createHmac, hash } from "node:crypto";', 'import { createHash, createHmac, hash } from "node:crypto";') + NATIVE;
});
probe("entry-direct", "entry.mjs", (text) => {
  const from = text.indexOf("function start(request, env, body) {");
  const to = text.indexOf("\n}\n", from) + 2;
  if (from < 0 || to < 2) throw new Error("entry-direct: the entry's start not found");
  return text.slice(0, from) + DIRECT_START + text.slice(to);
});
