// Webim's side of a delivery, as its servers do it: the chat JSON string signed with the
// account's private key (HMAC-SHA256 `signature`, or MD5 `crc` for handler API versions below
// 4), sent as form values or in the query string. Used by `npm run send`.
import crypto from "node:crypto";

export const signature = (chat, key) => crypto.createHmac("sha256", key).update(chat).digest("hex");
export const crc = (chat, key) => crypto.createHash("md5").update(chat).update(key).digest("hex");

/**
 * The fetch arguments for one delivery of `chat` (a string) to `url`. Credentials embedded in
 * `url` are sent as `Authorization: Basic`, as Webim's client does.
 */
export function request(url, chat, { key, legacy = false, query = false } = {}) {
  const target = new URL(url);
  const headers = {};
  if (target.username || target.password) {
    const pair = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.authorization = "Basic " + Buffer.from(pair).toString("base64");
    target.username = "";
    target.password = "";
  }
  const params = new URLSearchParams({ chat });
  params.set(legacy ? "crc" : "signature", legacy ? crc(chat, key) : signature(chat, key));
  if (query) {
    target.search = params.toString();
    return { url: target.toString(), init: { method: "POST", headers } };
  }
  headers["content-type"] = "application/x-www-form-urlencoded";
  return { url: target.toString(), init: { method: "POST", headers, body: params.toString() } };
}
