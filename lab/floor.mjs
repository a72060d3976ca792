// The job's floor in the runtime benchmark: the calls into the runtime that any worker doing
// webim-edge's job must make, each by the cheapest means workerd offers, and none of the job's
// own logic. It reads the delivery, hashes it three times with node:crypto as webim-edge does
// (src/shell/runtime/helpers.mjs: synchronous, through public APIs only; the Webim signature,
// the event id, the outbound signature), sends it to the origin with the
// Standard Webhooks headers under a timeout (ORIGIN_TIMEOUT_MS), writes one log line and answers
// JSON. It does not percent-decode, parse or clean the chat, or build the event, so every worker
// doing the whole job costs at least this much; docs/performance.md uses it to bound what
// "forwarding alone" can be compared with.
import { Buffer } from "node:buffer";
import { hmacSha256, sha256 } from "../src/shell/runtime/helpers.mjs";

const encoder = new TextEncoder();

export default {
  async fetch(request, env) {
    let body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength === 0) {
      const url = request.url;
      body = encoder.encode(url.slice(url.indexOf("?") + 1));
    }
    hmacSha256(encoder.encode(env.WEBIM_PRIVATE_KEYS), body);
    const id = "evt_" + Buffer.from(sha256(body)).toString("hex").slice(0, 32);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const mac = Buffer.from(hmacSha256(encoder.encode(env.ORIGIN_SIGNING_SECRET), body)).toString("base64");
    const res = await fetch(env.ORIGIN_URL, {
      method: "POST",
      redirect: "manual",
      body,
      headers: {
        "content-type": "application/json",
        "user-agent": "webim-edge-floor",
        "x-webim-event": "chat_started",
        "webhook-id": id,
        "webhook-timestamp": timestamp,
        "webhook-signature": `v1,${mac}`,
      },
      signal: AbortSignal.timeout(10000),
    });
    const outcome = res.ok ? "forwarded" : "origin_unavailable";
    console.log(JSON.stringify({ time: new Date().toISOString(), route: "/webim/chat_started", outcome, id, origin_status: res.status }));
    return Response.json({ status: outcome, id }, { status: res.ok ? 200 : 502 });
  },
};
