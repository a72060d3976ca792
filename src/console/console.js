// webim-edge operator console (contract §12, GET /admin/). It reads the admin API with the token
// the operator types, kept in this tab's sessionStorage only and sent as a bearer token, never
// as a cookie. Every string from the API reaches the page as text (DOM nodes, textContent),
// never as markup. Served with a policy that allows no inline script or style and no other host.
"use strict";

const TOKEN_KEY = "webim-edge.admin-token";
/** How often each view reads the API again while it is shown and the tab is visible (ms). */
const EVERY = { overview: 10000, dead: 10000, chat: 3000 };
const VIEWS = ["overview", "dead", "chat"];
const NOT_AVAILABLE = "not available in this version";
const TYPES = ["chat_started", "chat_assigned", "chat_closed"];
const STATES = ["held", "pending", "delivered", "dead"];

const $ = (id) => document.getElementById(id);

/** An element: `props` are attributes (`class`, `text` and `on…` handled apart); children that
 *  are not nodes become text nodes. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Puts `children` in place of what `el` holds. */
const fill = (el, ...children) => el.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));

// ---- times and words ------------------------------------------------------------------------

const LOCAL = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

const utc = (date) => date.toISOString().replace("T", " ").replace("Z", " UTC");

/** A time from the API, in the viewer's local time, with UTC on hover. */
function when(iso) {
  if (iso === undefined || iso === null || iso === "") return h("span", { class: "muted", text: "—" });
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", { text: String(iso) });
  return h("time", { datetime: date.toISOString(), title: utc(date) }, LOCAL.format(date));
}

/** "3 min ago", or "in 5 s". */
function ago(iso) {
  const ms = Date.now() - new Date(iso).getTime();
  if (Number.isNaN(ms)) return "";
  const s = Math.round(Math.abs(ms) / 1000);
  const span = s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} days`;
  return ms >= 0 ? `${span} ago` : `in ${span}`;
}

const now = () => {
  const date = new Date();
  return h("time", { datetime: date.toISOString(), title: utc(date) }, CLOCK.format(date));
};

const plural = (n, one, many = `${one}s`) => `${Number(n).toLocaleString()} ${n === 1 ? one : many}`;

/** An origin's answer as stored: a status code, `no_answer`, or nothing yet. */
function status(word) {
  if (word === undefined || word === null || word === "") return h("span", { class: "muted", text: "—" });
  const text = String(word);
  const ok = /^2\d\d$/.test(text);
  return h("span", { class: ok ? "status ok" : "status bad" }, text === "no_answer" ? "no answer" : text);
}

function badge(word) {
  const known = STATES.includes(word) || word === "up" || word === "down";
  return h("span", { class: known ? `badge badge-${word}` : "badge" }, String(word ?? "?"));
}

/** A chat id as it reads: in quotes, so that an empty or blank id shows. */
const quoted = (id) => (id === null || id === undefined ? h("span", { class: "muted", text: "(no chat id)" }) : h("span", { class: "chat-id" }, `“${id}”`));

// ---- the API --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code) {
    super(code);
    this.status = status;
    this.code = code;
  }
}

let token = null;
/** Changes on every sign-in and sign-out, so that an answer to an earlier one is dropped. */
let generation = 0;

/** One admin API request with the token: its JSON, or an ApiError. */
async function call(method, path, body) {
  const mine = generation;
  const init = {
    method,
    headers: { authorization: `Bearer ${token}` },
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network");
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    // Not JSON: the status says enough.
  }
  if (mine !== generation) throw new ApiError(0, "signed_out");
  if (res.ok) return json ?? {};
  throw new ApiError(res.status, json?.error?.code ?? `http_${res.status}`);
}

/** `/healthz`, which is public: version, or the names of the settings that are wrong. */
async function health() {
  let res;
  try {
    res = await fetch("/healthz", { cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
  } catch {
    throw new ApiError(0, "network");
  }
  try {
    return await res.json();
  } catch {
    throw new ApiError(res.status, `http_${res.status}`);
  }
}

/** What a person is told about a failed request. */
function explain(err) {
  switch (err.code) {
    case "network":
      return "Could not reach the edge (network error). It will be tried again.";
    case "outbox_not_configured":
      return "The outbox is not configured on this edge (no OUTBOX binding): the admin API needs it.";
    case "misconfigured":
      return "The edge is misconfigured and answers nothing until it is fixed: the overview names the settings.";
    case "storage_unavailable":
      return "The outbox's storage did not answer. Try again in a moment.";
    case "unauthorized":
      return "The edge refused the token.";
    case "bad_filter":
      return "The edge did not accept this filter (a time, type or chat id it cannot read).";
    default:
      return `The edge answered ${err.status || "nothing"} (${err.code}).`;
  }
}

/** Handles what every view handles alike; false when the caller must stop. */
function handled(err) {
  if (err.code === "signed_out") return false;
  if (err.code === "unauthorized") {
    signOut("The edge refused the token (it may have been changed). Enter it again.");
    return false;
  }
  notice(explain(err));
  return true;
}

function notice(text) {
  const el = $("notice");
  el.hidden = !text;
  el.textContent = text || "";
}

// ---- signing in and out ---------------------------------------------------------------------

async function signIn(candidate, typed) {
  const button = $("sign-in-form").querySelector("button");
  token = candidate;
  generation += 1;
  button.disabled = true;
  $("sign-in-error").hidden = true;
  try {
    // /admin/status where it exists; /admin/dead in every version.
    await call("GET", "/admin/status").catch((err) => (err.status === 404 ? call("GET", "/admin/dead") : Promise.reject(err)));
  } catch (err) {
    // 501 and 500 come with a right token (or before it is checked): the overview says why.
    if (!["outbox_not_configured", "misconfigured", "storage_unavailable"].includes(err.code)) {
      token = null;
      generation += 1;
      sessionStorage.removeItem(TOKEN_KEY);
      const text = err.code === "unauthorized"
        ? (typed ? "The edge refused this token. Check it and enter it again." : "The edge refused the saved token. Enter it again.")
        : explain(err);
      showSignIn(text);
      return;
    }
  } finally {
    button.disabled = false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  route();
}

function showSignIn(error) {
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("identity").hidden = true;
  $("sign-in").hidden = false;
  const el = $("sign-in-error");
  el.hidden = !error;
  el.textContent = error || "";
  const input = $("token");
  input.value = "";
  input.focus();
}

/** Forgets the token and everything shown with it. */
function signOut(error) {
  token = null;
  generation += 1;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(timer);
  view = null;
  notice("");
  clearData();
  showSignIn(error);
}

function clearData() {
  for (const id of ["ov-version", "ov-mode", "ov-waiting", "ov-dead", "ov-down", "ov-settings"]) $(id).textContent = "…";
  fill($("ov-problems"));
  $("ov-problems").hidden = true;
  fill($("ov-origins"));
  fill($("identity"));
  for (const id of ["overview-updated", "dead-updated", "chat-updated", "dead-summary", "replay-result", "replay-confirm-text", "replay-progress-text"]) fill($(id));
  fill($("dead-rows"));
  $("dead-table").hidden = true;
  $("replay-confirm").hidden = true;
  $("replay-progress").hidden = true;
  fill($("chat-body"));
  $("chat-id").value = "";
  $("dead-filter").reset();
  dead.rows = [];
  dead.total = 0;
  dead.filter = {};
  dead.selected.clear();
  chat.id = null;
}

// ---- views and refreshing -------------------------------------------------------------------

let view = null;
let timer = 0;
let ticket = 0;

function route() {
  if (!token) return;
  const name = location.hash.slice(1);
  view = VIEWS.includes(name) ? name : "overview";
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const tab of document.querySelectorAll("[data-tab]")) {
    if (tab.dataset.tab === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  refresh();
}

/** Reads the shown view's data now, then again after its interval, while the tab is visible. */
async function refresh() {
  clearTimeout(timer);
  if (!token || !view) return;
  const mine = ++ticket;
  const loaders = { overview: loadOverview, dead: loadDead, chat: loadChat };
  try {
    await loaders[view]();
  } finally {
    if (mine === ticket && token && !document.hidden) timer = setTimeout(refresh, EVERY[view]);
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) clearTimeout(timer);
  else refresh();
});

// ---- overview -------------------------------------------------------------------------------

const MODES = {
  outbox: "stored, delivered in order, retried",
  queue: "retried from a Queue",
  direct: "forwarded at once, nothing kept",
};

async function loadOverview() {
  const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));
  const [healthy, stated, origins] = await Promise.all([
    settle(health()),
    settle(call("GET", "/admin/status")),
    settle(call("GET", "/admin/origins")),
  ]);
  let deadCount = stated.value?.dead;
  let listed = {};
  if (stated.error?.status === 404) {
    // An edge without /admin/status: the dead count from the list.
    listed = await settle(call("GET", "/admin/dead"));
    deadCount = listed.value?.total;
  }
  // A 404 is an endpoint this edge does not have; anything else is said once.
  const failures = [stated, origins, listed, healthy].map((r) => r.error).filter((e) => e && e.status !== 404);
  const ending = failures.find((e) => e.code === "signed_out" || e.code === "unauthorized");
  if (ending) {
    handled(ending);
    return;
  }
  notice(failures.length ? explain(failures[0]) : "");

  const version = stated.value?.version ?? healthy.value?.version;
  const unknown = (r) => (r.error?.status === 404 ? h("span", { class: "na" }, NOT_AVAILABLE) : "—");
  $("ov-version").textContent = version ?? "—";
  const mode = stated.value?.mode;
  fill($("ov-mode"), mode ? [h("span", {}, mode), h("small", {}, MODES[mode] ?? "")] : unknown(stated));
  fill($("ov-waiting"), stated.value ? Number(stated.value.waiting ?? 0).toLocaleString() : unknown(stated));
  $("ov-dead").textContent = deadCount === undefined || deadCount === null ? "—" : Number(deadCount).toLocaleString();
  $("ov-dead").classList.toggle("alarm", deadCount > 0);
  fill($("ov-down"), stated.value ? Number(stated.value.origins_down ?? 0).toLocaleString() : unknown(stated));
  $("ov-down").classList.toggle("alarm", stated.value?.origins_down > 0);
  fill($("identity"), [version && `v${version}`, mode].filter(Boolean).join(" · "));
  $("identity").hidden = !version;

  const problems = healthy.value?.problems ?? [];
  if (healthy.error) {
    $("ov-settings").textContent = "—";
  } else if (healthy.value?.status === "ok") {
    fill($("ov-settings"), h("span", { class: "good" }, "Every setting is valid."));
  } else {
    fill($("ov-settings"), h("span", { class: "bad" }, "Misconfigured: fix these settings (values are never shown):"));
  }
  fill($("ov-problems"), problems.map((name) => h("li", {}, h("code", {}, String(name)))));
  $("ov-problems").hidden = problems.length === 0;

  renderOrigins(origins);
  fill($("overview-updated"), "Updated ", now());
}

function renderOrigins(origins) {
  const box = $("ov-origins");
  if (origins.error) {
    fill(box, h("p", { class: "muted" }, origins.error.status === 404 ? `Origin health: ${NOT_AVAILABLE}.` : "—"));
    return;
  }
  const list = origins.value?.origins ?? [];
  if (list.length === 0) {
    fill(box, h("p", { class: "muted" }, "No origin is configured."));
    return;
  }
  const rows = list.map((o) =>
    h("tr", { class: o.state === "down" ? "row-bad" : "" },
      h("th", { scope: "row" }, h("code", {}, String(o.name))),
      h("td", {}, badge(o.state)),
      h("td", {}, o.since ? [when(o.since), h("small", { class: "muted" }, ` (${ago(o.since)})`)] : h("span", { class: "muted", text: "—" })),
      h("td", { class: "num" }, Number(o.failures_in_row ?? 0).toLocaleString()),
      h("td", {}, status(o.last_status)),
      h("td", {}, when(o.last_probe)),
      h("td", { class: "num" }, Number(o.waiting ?? 0).toLocaleString())));
  fill(box, h("div", { class: "table-wrap" },
    h("table", {},
      h("caption", { class: "visually-hidden" }, "Origins by their setting's name"),
      h("thead", {}, h("tr", {}, ["Origin", "State", "Since", "Failures in a row", "Last status", "Last probe", "Waiting"]
        .map((t, i) => h("th", { scope: "col", class: i === 3 || i === 6 ? "num" : null }, t)))),
      h("tbody", {}, rows))));
}

$("overview-refresh").addEventListener("click", () => refresh());

// ---- dead events ----------------------------------------------------------------------------

const dead = { filter: {}, rows: [], total: 0, selected: new Set(), busy: false };

function localToIso(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function filterOfForm() {
  const filter = {};
  const type = $("f-type").value;
  if (TYPES.includes(type)) filter.type = type;
  const since = localToIso($("f-since").value);
  if (since) filter.since = since;
  const until = localToIso($("f-until").value);
  if (until) filter.until = until;
  const chatId = $("f-chat").value;
  if (chatId !== "") filter.chat_id = chatId;
  return filter;
}

/** The filter again in the browser, for an edge that lists without filtering. */
function matches(row, filter) {
  const died = new Date(row.died_at).getTime();
  return (!filter.type || row.type === filter.type)
    && (filter.chat_id === undefined || row.chat_id === filter.chat_id)
    && (!filter.since || died >= new Date(filter.since).getTime())
    && (!filter.until || died <= new Date(filter.until).getTime());
}

function describe(filter) {
  const parts = [];
  if (filter.type) parts.push(`type ${filter.type}`);
  if (filter.chat_id !== undefined) parts.push(`chat “${filter.chat_id}”`);
  if (filter.since) parts.push(`died since ${LOCAL.format(new Date(filter.since))}`);
  if (filter.until) parts.push(`died until ${LOCAL.format(new Date(filter.until))}`);
  return parts.length ? parts.join(", ") : "no filter";
}

async function loadDead() {
  if (dead.busy) return;
  const query = new URLSearchParams(dead.filter).toString();
  let answer;
  try {
    answer = await call("GET", `/admin/dead${query ? `?${query}` : ""}`);
  } catch (err) {
    if (handled(err)) fill($("dead-summary"), h("span", { class: "bad" }, explain(err)));
    return;
  }
  notice("");
  const listed = Array.isArray(answer.dead) ? answer.dead : [];
  const kept = listed.filter((row) => matches(row, dead.filter));
  dead.rows = kept;
  dead.total = kept.length === listed.length ? Number(answer.total ?? kept.length) : kept.length;
  const ids = new Set(kept.map((row) => row.id));
  for (const id of dead.selected) if (!ids.has(id)) dead.selected.delete(id);
  renderDead();
  fill($("dead-updated"), "Updated ", now());
}

function renderDead() {
  const filtered = Object.keys(dead.filter).length > 0;
  const summary = $("dead-summary");
  if (dead.total === 0) {
    fill(summary, filtered
      ? "No dead event matches this filter."
      : "No dead events: everything the outbox accepted was delivered or is still being tried.");
  } else {
    fill(summary,
      h("strong", {}, plural(dead.total, "dead event")),
      filtered ? ` match (${describe(dead.filter)})` : " in all",
      dead.rows.length < dead.total ? `; the newest ${dead.rows.length.toLocaleString()} are listed.` : ".");
  }
  // Keeps the focus on the same row's box across a refresh.
  const focused = document.activeElement?.dataset?.id;
  const rows = dead.rows.map((row) => {
    const box = h("input", { type: "checkbox", "aria-label": `Select ${row.id}`, "data-id": row.id });
    box.checked = dead.selected.has(row.id);
    box.addEventListener("change", () => {
      if (box.checked) dead.selected.add(row.id);
      else dead.selected.delete(row.id);
      updateDeadButtons();
    });
    const chatCell = row.chat_id === null || row.chat_id === undefined
      ? h("span", { class: "muted", text: "(no chat id)" })
      : h("button", { type: "button", class: "link", title: "Show this chat", onclick: () => openChat(row.chat_id) }, quoted(row.chat_id));
    return h("tr", {},
      h("td", { class: "pick" }, box),
      h("td", {}, when(row.died_at)),
      h("td", {}, String(row.type)),
      h("td", { class: "chat-cell" }, chatCell),
      h("td", {}, h("code", {}, String(row.id))),
      h("td", { class: "num" }, Number(row.attempts ?? 0).toLocaleString()),
      h("td", {}, status(row.last_status)));
  });
  fill($("dead-rows"), rows);
  $("dead-table").hidden = rows.length === 0;
  if (focused) document.querySelector(`#dead-rows input[data-id="${CSS.escape(focused)}"]`)?.focus();
  updateDeadButtons();
}

function updateDeadButtons() {
  const n = dead.selected.size;
  const all = $("dead-all");
  all.checked = n > 0 && n === dead.rows.length;
  all.indeterminate = n > 0 && n < dead.rows.length;
  all.disabled = dead.busy || dead.rows.length === 0;
  $("replay-selected").disabled = dead.busy || n === 0;
  $("replay-selected").textContent = n ? `Replay selected (${n.toLocaleString()})` : "Replay selected";
  $("replay-all").disabled = dead.busy || dead.total === 0;
  $("replay-all").textContent = dead.total ? `Replay all ${dead.total.toLocaleString()} matching…` : "Replay all matching…";
}

$("dead-all").addEventListener("change", () => {
  if ($("dead-all").checked) for (const row of dead.rows) dead.selected.add(row.id);
  else dead.selected.clear();
  renderDead();
});

$("dead-filter").addEventListener("submit", (e) => {
  e.preventDefault();
  const filter = filterOfForm();
  if (filter.since && filter.until && filter.since > filter.until) {
    fill($("dead-summary"), h("span", { class: "bad" }, "“Died since” is after “Died until”."));
    return;
  }
  dead.filter = filter;
  dead.selected.clear();
  $("replay-confirm").hidden = true;
  refresh();
});

$("f-clear").addEventListener("click", () => {
  $("dead-filter").reset();
  dead.filter = {};
  dead.selected.clear();
  refresh();
});

$("dead-refresh").addEventListener("click", () => refresh());

function progress(done, total, text) {
  $("replay-progress").hidden = false;
  $("replay-bar").max = Math.max(total, 1);
  $("replay-bar").value = Math.min(done, total);
  $("replay-progress-text").textContent = text;
}

function busy(on) {
  dead.busy = on;
  $("view-dead").setAttribute("aria-busy", on ? "true" : "false");
  updateDeadButtons();
}

$("replay-selected").addEventListener("click", async () => {
  const ids = [...dead.selected];
  if (ids.length === 0) return;
  busy(true);
  fill($("replay-result"));
  let replayed = 0;
  let gone = 0;
  let failed = null;
  for (const [i, id] of ids.entries()) {
    progress(i, ids.length, `Replaying ${i + 1} of ${ids.length}…`);
    try {
      await call("POST", `/admin/events/${encodeURIComponent(id)}/replay`);
      replayed += 1;
    } catch (err) {
      if (err.status === 404) gone += 1;
      else if (!handled(err)) return;
      else { failed = err; break; }
    }
  }
  progress(ids.length, ids.length, "");
  $("replay-progress").hidden = true;
  dead.selected.clear();
  busy(false);
  fill($("replay-result"),
    h("span", { class: replayed ? "good" : "" }, `Replayed ${plural(replayed, "event")}: back to pending, to be delivered again with the same webhook-id.`),
    gone ? ` ${plural(gone, "event was", "events were")} no longer dead (replayed already).` : "",
    failed ? h("span", { class: "bad" }, ` Stopped: ${explain(failed)}`) : "");
  await refresh();
});

$("replay-all").addEventListener("click", () => {
  fill($("replay-confirm-text"),
    `Replay all ${plural(dead.total, "dead event")} that match (${describe(dead.filter)})? `,
    "Each goes back to pending and is delivered again, in its chat's order.");
  $("replay-confirm").hidden = false;
  $("replay-confirm-no").focus();
});

$("replay-confirm-no").addEventListener("click", () => {
  $("replay-confirm").hidden = true;
  $("replay-all").focus();
});

$("replay-confirm-yes").addEventListener("click", async () => {
  $("replay-confirm").hidden = true;
  busy(true);
  fill($("replay-result"));
  const filter = { ...dead.filter };
  let replayed = 0;
  let remaining = dead.total;
  let stalls = 0;
  let ending = null;
  progress(0, remaining, `Replaying ${plural(remaining, "event")}…`);
  for (;;) {
    let answer;
    try {
      answer = await call("POST", "/admin/replay", filter);
    } catch (err) {
      if (err.status === 404) {
        ending = `Replaying everything that matches is ${NOT_AVAILABLE}: select the events and use “Replay selected”.`;
      } else if (!handled(err)) {
        return;
      } else {
        ending = `Stopped: ${explain(err)}`;
      }
      break;
    }
    const step = Number(answer.replayed ?? 0);
    replayed += step;
    remaining = Number(answer.remaining ?? 0);
    progress(replayed, replayed + remaining, `${replayed.toLocaleString()} replayed, ${remaining.toLocaleString()} to go…`);
    if (remaining <= 0) break;
    stalls = step === 0 ? stalls + 1 : 0;
    if (stalls >= 3) {
      ending = `Stopped: ${plural(remaining, "event")} could not be replayed yet. Try again.`;
      break;
    }
  }
  $("replay-progress").hidden = true;
  dead.selected.clear();
  busy(false);
  fill($("replay-result"),
    h("span", { class: replayed ? "good" : "" }, `Replayed ${plural(replayed, "event")}: back to pending, to be delivered again with the same webhook-id.`),
    ending ? h("span", { class: "bad" }, ` ${ending}`) : "");
  await refresh();
});

// ---- a chat ---------------------------------------------------------------------------------

const chat = { id: null, following: true };

function openChat(id) {
  $("chat-id").value = id;
  chat.id = id;
  chat.following = true;
  fill($("chat-body"));
  if (location.hash === "#chat") refresh();
  else location.hash = "#chat";
}

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  chat.id = $("chat-id").value;
  chat.following = true;
  fill($("chat-body"));
  refresh();
});

$("chat-stop").addEventListener("click", () => {
  chat.following = !chat.following;
  if (chat.following) refresh();
  else {
    clearTimeout(timer);
    ticket += 1;
    renderFollowing();
  }
});

function renderFollowing() {
  const button = $("chat-stop");
  button.hidden = chat.id === null;
  button.textContent = chat.following ? "Stop following" : "Follow";
  if (chat.id === null) fill($("chat-updated"));
}

async function loadChat() {
  renderFollowing();
  if (chat.id === null) {
    fill($("chat-body"), h("p", { class: "muted" }, "Type or paste a chat id to see its events and every attempt to deliver them."));
    return;
  }
  if (!chat.following) return;
  const id = chat.id;
  let answer;
  try {
    answer = await call("GET", `/admin/chats/${encodeURIComponent(id)}`);
  } catch (err) {
    if (id !== chat.id) return;
    if (err.status === 404) {
      notice("");
      fill($("chat-body"), h("p", { class: "empty" }, "The outbox holds nothing for the chat ", quoted(id),
        ": no event with this chat id arrived, or its records were swept after OUTBOX_RETENTION_DAYS."));
      fill($("chat-updated"), "Checked ", now(), chat.following ? "; following it" : "");
    } else if (handled(err)) {
      fill($("chat-body"), h("p", { class: "bad" }, explain(err)));
    }
    return;
  }
  if (id !== chat.id) return;
  notice("");
  renderChat(id, answer);
  fill($("chat-updated"), "Updated ", now(), chat.following ? `; following it (every ${EVERY.chat / 1000} s while this tab is shown)` : "");
}

function renderChat(id, answer) {
  const events = Array.isArray(answer.events) ? answer.events : [];
  const counts = STATES.map((s) => [s, events.filter((e) => e.state === s).length]).filter(([, n]) => n > 0);
  const items = events.map((event, i) => {
    const attempts = Array.isArray(event.attempt_log) ? event.attempt_log : [];
    const facts = [
      ["Attempts", Number(event.attempts ?? 0).toLocaleString()],
      ["Received", when(event.received_at)],
      event.next_attempt_at ? ["Next attempt", [when(event.next_attempt_at), h("small", { class: "muted" }, ` (${ago(event.next_attempt_at)})`)]] : null,
      event.finished_at ? [event.state === "dead" ? "Died" : "Finished", when(event.finished_at)] : null,
      ["Last status", status(event.last_status)],
      ["Stored", event.stored_bytes ? `${Number(event.stored_bytes).toLocaleString()} bytes` : "nothing (the chat is deleted once delivered)"],
    ].filter(Boolean);
    const replay = event.state === "dead"
      ? h("button", { type: "button", onclick: (e) => replayOne(e.currentTarget, event.id) }, "Replay this event")
      : null;
    return h("li", { class: `event event-${STATES.includes(event.state) ? event.state : "other"}` },
      h("div", { class: "event-head" },
        h("span", { class: "seq" }, `${i + 1}.`),
        h("strong", {}, String(event.type)),
        badge(event.state),
        h("code", { class: "event-id" }, String(event.id))),
      h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
      attempts.length
        ? h("div", { class: "table-wrap" }, h("table", { class: "attempts" },
          h("caption", {}, `Attempts (${attempts.length})`),
          h("thead", {}, h("tr", {}, ["#", "Time", "Origin status", "Duration"].map((t, j) => h("th", { scope: "col", class: j === 0 || j === 3 ? "num" : null }, t)))),
          h("tbody", {}, attempts.map((a, j) => h("tr", {},
            h("td", { class: "num" }, String(j + 1)),
            h("td", {}, when(a.at)),
            h("td", {}, status(a.status)),
            h("td", { class: "num" }, `${Number(a.duration_ms ?? 0).toLocaleString()} ms`))))))
        : h("p", { class: "muted" }, "No attempt yet."),
      replay);
  });
  fill($("chat-body"),
    h("h2", { class: "chat-title" }, "Chat ", quoted(answer.chat_id ?? id)),
    h("p", { class: "summary" }, events.length
      ? `${plural(events.length, "event")} in delivery order: ${counts.map(([s, n]) => `${n} ${s}`).join(", ")}.`
      : "No events."),
    h("ol", { class: "events" }, items));
}

async function replayOne(button, id) {
  button.disabled = true;
  try {
    await call("POST", `/admin/events/${encodeURIComponent(id)}/replay`);
  } catch (err) {
    if (err.status === 404) notice("That event is no longer dead (replayed already).");
    else if (!handled(err)) return;
  }
  await refresh();
}

// ---- start ----------------------------------------------------------------------------------

$("sign-in-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("token").value.trim();
  if (value) signIn(value, true);
});

$("sign-out").addEventListener("click", () => signOut(""));

window.addEventListener("hashchange", route);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved, false);
else showSignIn("");
