// The floor of the runtime benchmark: a worker that answers `{}` at once. It reads the body
// (none with the query transport), as any receiver must for workerd to keep the connection.
// Every other worker's figure is reported above this one's, per transport, so that what workerd
// (and Miniflare's entry worker in front of it) spends on receiving a request and sending a
// reply is not counted as the worker's own work.
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response("{}", { headers: { "content-type": "application/json" } });
  },
};
