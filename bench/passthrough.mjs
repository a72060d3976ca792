// The floor of the runtime benchmark: a worker that receives the request and answers at once.
// (It reads the body, as any receiver must for the connection to be reused.)
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } });
  },
};
