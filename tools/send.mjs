#!/usr/bin/env node
// npm run send -- <chat_started|chat_assigned|chat_closed> [options]
// Signs a chat exactly as Webim does and POSTs it to a webim-edge; prints the status and answer.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { request } from "./webim.mjs";

const usage = `usage: npm run send -- <chat_started|chat_assigned|chat_closed> [options]
  --url URL      edge base URL, may embed user:pass@ (default http://127.0.0.1:8787)
  --key KEY      Webim private key (default: $WEBIM_PRIVATE_KEY or the npm start demo key)
  --legacy       sign with MD5 crc (handler API version below 4) instead of HMAC-SHA256
  --query        send the parameters in the query string with an empty body (default: form body)
  --chat FILE    chat JSON file (default: tools/sample-chat.json)
  --chat-id ID   the chat's id instead of the file's (to send events of several chats)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string", default: "http://127.0.0.1:8787" },
    key: { type: "string", default: process.env.WEBIM_PRIVATE_KEY ?? "demo-private-key" },
    legacy: { type: "boolean", default: false },
    query: { type: "boolean", default: false },
    chat: { type: "string", default: new URL("./sample-chat.json", import.meta.url).pathname },
    "chat-id": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
const type = positionals[0];
if (values.help || !["chat_started", "chat_assigned", "chat_closed"].includes(type)) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}
// Webim sends the chat as compact JSON; re-serializing also validates the file.
const parsed = JSON.parse(readFileSync(values.chat, "utf8"));
if (values["chat-id"] !== undefined) parsed.id = values["chat-id"];
const chat = JSON.stringify(parsed);
const base = values.url.replace(/\/+$/, "");
const { url, init } = request(`${base}/webim/${type}`, chat, values);
try {
  const res = await fetch(url, init);
  console.log(`${res.status} ${res.statusText}`);
  console.log(await res.text());
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`could not reach ${new URL(url).origin}: ${err.cause?.code ?? err.message}`);
  process.exit(1);
}
