// The reference of the runtime benchmark: webim-edge's job (direct mode, HMAC-SHA256, clean
// chat, Standard Webhooks signing, forward) written as a plain JavaScript Worker on WebCrypto.
// Written to be reasonably fast, not complete: enough to compare CPU per request fairly.
// `accept` (verify and build the event) and `send` (POST it signed) are exported for the
// JavaScript outbox, lab/js-outbox.mjs.
const encoder = new TextEncoder();
const TYPES = new Set(["chat_started", "chat_assigned", "chat_closed"]);
const USERINFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\/?#\\\s"<>`]*@/g;
const ZONED = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)? *(Z|[+-]\d\d:?\d\d)$/i;
let cached;

async function keys(env) {
  if (!cached) {
    const raw = Uint8Array.from(atob(env.ORIGIN_SIGNING_SECRET.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
    cached = {
      webim: await Promise.all(env.WEBIM_PRIVATE_KEYS.split(/[,\n]/).map((k) =>
        crypto.subtle.importKey("raw", encoder.encode(k.trim()), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]))),
      origin: await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
    };
  }
  return cached;
}

const hexBytes = (hex) => (/^[0-9a-f]{64}$/i.test(hex) ? Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16)) : null);
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const base64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
const error = (status, code) => Response.json({ error: { code, message: code } }, { status });

function clean(value) {
  if (typeof value === "string") return value.includes("://") ? value.replace(USERINFO, "$1") : value;
  if (Array.isArray(value)) return value.map(clean);
  if (value && typeof value === "object") {
    for (const k of Object.keys(value)) value[k] = clean(value[k]);
  }
  return value;
}

function utc(at) {
  const m = typeof at === "string" && ZONED.exec(at);
  if (!m) return at;
  const d = new Date(`${m[1]}T${m[2]}${m[4].toUpperCase() === "Z" ? "Z" : m[4]}`);
  return isNaN(d) ? at : d.toISOString().slice(0, 19) + (m[3] ?? "") + "Z";
}

/**
 * Verifies a delivery and builds its event: an error Response, or what sending it needs (the
 * route, the event's type, id and JSON body, the parsed chat). lab/js-outbox.mjs reuses it.
 */
export async function accept(request, env) {
  const url = new URL(request.url);
  const type = url.pathname.slice("/webim/".length);
  if (!url.pathname.startsWith("/webim/") || !TYPES.has(type)) return error(404, "not_found");
  if (request.method !== "POST") return error(405, "method_not_allowed");
  // Parameters come in the query string (Webim's documented way) or in a form body.
  const text = await request.text();
  const form = text ? new URLSearchParams(text) : url.searchParams;
  const chat = form.get("chat");
  const signature = hexBytes(form.get("signature") ?? "");
  if (chat === null) return error(400, "missing_chat");
  if (!signature) return error(401, "bad_signature");
  const k = await keys(env);
  const chatBytes = encoder.encode(chat);
  let ok = false;
  for (const key of k.webim) ok = (await crypto.subtle.verify("HMAC", key, signature, chatBytes)) || ok;
  if (!ok) return error(401, "bad_signature");
  let parsed;
  try {
    parsed = JSON.parse(chat);
  } catch {
    return error(400, "invalid_chat_json");
  }
  clean(parsed);
  parsed.created_at = utc(parsed.created_at);
  for (const m of parsed.messages ?? []) m.created_at = utc(m.created_at);
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`${type}\n${chat}`));
  const id = "evt_" + hex(digest).slice(0, 32);
  const body = JSON.stringify({ type, id, received_at: new Date().toISOString(), signature_scheme: "hmac-sha256", chat: parsed });
  return { route: url.pathname, type, id, body, parsed };
}

/** POSTs the event to the origin, signed with the Standard Webhooks headers; the origin's Response. */
export async function send(env, type, id, body, init = {}) {
  const k = await keys(env);
  const timestamp = Math.floor(Date.now() / 1000);
  const mac = await crypto.subtle.sign("HMAC", k.origin, encoder.encode(`${id}.${timestamp}.${body}`));
  return fetch(env.ORIGIN_URL, {
    method: "POST",
    redirect: "manual",
    body,
    headers: {
      "content-type": "application/json",
      "user-agent": "webim-edge-js-reference",
      "x-webim-event": type,
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${base64(mac)}`,
    },
    ...init,
  });
}

export { error };

export default {
  async fetch(request, env) {
    const event = await accept(request, env);
    if (event instanceof Response) return event;
    const { route, type, id, parsed } = event;
    const res = await send(env, type, id, event.body);
    // One log line per request, as webim-edge writes (contract §8).
    console.log(JSON.stringify({ time: new Date().toISOString(), route, outcome: res.ok ? "forwarded" : "origin_unavailable", status: res.ok ? 200 : 502, event: type, id, chat_id: String(parsed.id), scheme: "hmac-sha256", key_index: 0, origin_status: res.status }));
    return res.ok ? Response.json({ status: "forwarded", id }) : error(502, "origin_unavailable");
  },
};
