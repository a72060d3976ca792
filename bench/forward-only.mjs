// The forward floor of the runtime benchmark: a worker that receives the request and sends its
// body to the origin, doing nothing else — the least any forwarding edge can cost.
export default {
  async fetch(request, env) {
    const body = await request.arrayBuffer();
    const res = await fetch(env.ORIGIN_URL, { method: "POST", body, headers: { "content-type": "application/json" } });
    return new Response(res.ok ? '{"status":"forwarded"}' : '{"status":"failed"}', { status: res.ok ? 200 : 502 });
  },
};
