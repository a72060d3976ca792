// The shipped wrangler.toml, read by the pinned wrangler itself (its own parser and
// validation), in every environment: no environment lets the platform keep request URLs, where
// Webim puts the chat and its signature, and every setting is a string.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { unstable_readConfig } from "wrangler";

const ENVIRONMENTS = [undefined, ...[...readFileSync("wrangler.toml", "utf8").matchAll(/^\[env\.([a-z0-9_-]+)\]$/gm)].map((m) => m[1])];

/** The config wrangler reads for `env`, with whatever it warned about. */
function read(env) {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  try {
    return { config: unstable_readConfig({ config: "wrangler.toml", env }, {}), warnings };
  } finally {
    console.warn = warn;
  }
}

test("the shipped config has staging and production environments", () => {
  assert.deepEqual(ENVIRONMENTS, [undefined, "staging", "production"]);
});

for (const env of ENVIRONMENTS) {
  const name = env ?? "top level";

  test(`${name}: invocation logs, which would keep request URLs, are off`, () => {
    const { config, warnings } = read(env);
    const own = env ? readFileSync("wrangler.toml", "utf8").includes(`[env.${env}.observability.logs]`) : true;
    assert.ok(own, "the environment states its own observability settings");
    assert.equal(config.observability?.logs?.invocation_logs, false);
    assert.deepEqual(warnings.filter((w) => /observability/i.test(w)), []);
  });

  test(`${name}: every var is a string`, () => {
    const { config } = read(env);
    for (const [key, value] of Object.entries(config.vars ?? {})) {
      assert.equal(typeof value, "string", `${key} must be a string`);
    }
  });

  test(`${name}: the outbox is bound, with the migration that creates its SQLite class`, () => {
    const { config } = read(env);
    assert.deepEqual(config.durable_objects?.bindings?.map((b) => [b.name, b.class_name]), [["OUTBOX", "ChatOutbox"]]);
    assert.ok(config.migrations?.some((m) => m.new_sqlite_classes?.includes("ChatOutbox")), "a new_sqlite_classes migration");
  });
}
