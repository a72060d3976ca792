// The forward floor of the runtime benchmark: a worker that receives the request and sends what
// it carries (the body, or else the query string) to the origin, doing nothing else — the least
// any forwarding edge can cost.
export default {
  async fetch(request, env) {
    let body = await request.arrayBuffer();
    if (body.byteLength === 0) {
      const at = request.url.indexOf("?");
      body = at < 0 ? "" : request.url.slice(at + 1);
    }
    const res = await fetch(env.ORIGIN_URL, { method: "POST", body, headers: { "content-type": "application/json" } });
    return new Response(res.ok ? '{"status":"forwarded"}' : '{"status":"failed"}', { status: res.ok ? 200 : 502 });
  },
};
