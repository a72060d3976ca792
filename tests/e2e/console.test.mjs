// End-to-end tests of the operator console (contract §12, GET /admin/): the page as the worker
// serves it (its headers; nothing without ADMIN_TOKEN), then in a real browser (Debian's
// Chromium through puppeteer-core) against the built worker with the outbox, in front of a real
// local origin that is told to fail and to recover. The same run writes the screenshots of
// docs/console/ that the README shows.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { KEY, VERSION, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const TOKEN = "console-admin-token-for-tests-0123456789";
const OUTBOX = { durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } } };
const bearer = (token = TOKEN) => ({ headers: { authorization: `Bearer ${token}` } });
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const SHOTS = fileURLToPath(new URL("../../docs/console/", import.meta.url));
const HOSTILE = "<img src=x onerror=alert(1)>";
const DESKTOP = { width: 1280, height: 860 };
// isMobile or hasTouch would make Chromium reload the page; the width is what the layout reads.
const PHONE = { width: 390, height: 844, deviceScaleFactor: 2 };

/** Chromium, launched as the tests need it, or why the browser tests are skipped. */
async function launch() {
  let executablePath;
  try {
    executablePath = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    return { skip: "chromium is not installed" };
  }
  if (!executablePath) return { skip: "chromium is not installed" };
  const profile = mkdtempSync(join(tmpdir(), "webim-edge-chromium-"));
  try {
    const { default: puppeteer } = await import("puppeteer-core");
    const browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`],
    });
    return { browser, profile };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    return { skip: `chromium is not installed (it could not be launched: ${err.message.split("\n")[0]})` };
  }
}

const chromium = await launch();

let origin;
let edge;
const edges = [];

before(async () => {
  origin = await startOrigin();
  edge = await startEdge(
    {
      WEBIM_PRIVATE_KEYS: KEY,
      ORIGIN_URL: `${origin.url}/console`,
      ADMIN_TOKEN: TOKEN,
      MAX_ATTEMPTS: "1",
      RETRY_BASE_SECONDS: "1",
      ORIGIN_DOWN_AFTER: "2",
      ORIGIN_PROBE_SECONDS: "1",
    },
    { listen: true, worker: OUTBOX },
  );
  edges.push(edge);
});

after(async () => {
  await chromium.browser?.close();
  if (chromium.profile) rmSync(chromium.profile, { recursive: true, force: true });
  for (const e of edges) await e.dispose();
  await origin?.close();
});

describe("the console as served", () => {
  test("the page and its files carry the policy; every admin answer is private", async () => {
    for (const [path, type] of [["/admin/", "text/html"], ["/admin/console.js", "text/javascript"], ["/admin/console.css", "text/css"]]) {
      const r = await edge.send(path);
      assert.equal(r.status, 200, path);
      assert.ok(r.headers.get("content-type").startsWith(type), path);
      assert.equal(r.headers.get("content-security-policy"), CSP, path);
      assert.equal(r.headers.get("x-frame-options"), "DENY", path);
      assert.equal(r.headers.get("referrer-policy"), "no-referrer", path);
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", path);
      assert.equal(r.headers.get("cache-control"), "no-store", path);
      assert.ok(!r.text.includes(TOKEN), "the page holds no secret");
    }
    const bare = await edge.send("/admin");
    assert.deepEqual([bare.status, bare.headers.get("location")], [308, "/admin/"]);
    assert.equal((await edge.send("/admin/", { method: "POST" })).status, 404);
    assert.equal((await edge.send("/admin/index.html")).status, 404);
    // The API's answers, refusals included, are never cached nor named in a Referer.
    for (const [path, init, status] of [
      ["/admin/dead", bearer(), 200],
      ["/admin/dead", bearer("wrong"), 401],
      ["/admin/chats/none-here", bearer(), 404],
      ["/admin/events/evt_nope/replay", { method: "POST", ...bearer() }, 404],
    ]) {
      const r = await edge.send(path, init);
      assert.equal(r.status, status, path);
      assert.equal(r.headers.get("cache-control"), "no-store", path);
      assert.equal(r.headers.get("referrer-policy"), "no-referrer", path);
    }
  });

  test("without ADMIN_TOKEN the console is a 404 like any unknown path", async () => {
    const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/none` }, { worker: OUTBOX });
    edges.push(e);
    const unknown = await e.send("/nope");
    for (const path of ["/admin", "/admin/", "/admin/console.js", "/admin/console.css", "/admin/dead"]) {
      const r = await e.send(path, bearer());
      assert.equal(r.status, 404, path);
      assert.equal(r.text, unknown.text, path);
      assert.deepEqual([...r.headers.keys()].sort(), [...unknown.headers.keys()].sort(), path);
    }
  });
});

// Each browser test is skipped on its own where Chromium is missing, so that the count of
// skipped tests shows it (a skipped suite would count as one passed test).
const inBrowser = (name, fn) => test(name, { skip: chromium.skip }, fn);

describe("the console in a browser", () => {
  let page;
  const requests = [];
  const dialogs = [];
  const problems = [];
  const started = eventId("chat_started", sampleChat({ id: "7001" }));
  const hostile = eventId("chat_started", sampleChat({ id: HOSTILE }));

  /** Waits until `selector`'s text matches `pattern`; its text. */
  const textOf = (selector, pattern, timeout = 15000) =>
    page
      .waitForFunction(
        (sel, source) => {
          const el = document.querySelector(sel);
          return el && !el.closest("[hidden]") && new RegExp(source).test(el.textContent) && el.textContent;
        },
        { timeout, polling: 100 },
        selector,
        pattern.source,
      )
      .then((handle) => handle.jsonValue());
  /** Clicks `refresh` until `selector`'s text matches `pattern`. */
  async function refreshUntil(refresh, selector, pattern, what) {
    await eventually(async () => {
      await page.click(refresh);
      return textOf(selector, pattern, 1500).catch(() => false);
    }, 20000, what);
  }
  const shot = async (name, viewport = DESKTOP) => {
    await page.setViewport(viewport);
    await new Promise((r) => setTimeout(r, 150));
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const signIn = async (token) => {
    await page.waitForSelector("#token", { visible: true });
    await page.$eval("#token", (el) => { el.value = ""; });
    await page.type("#token", token);
    await page.keyboard.press("Enter");
  };

  before(async () => {
    if (chromium.skip) return;
    mkdirSync(SHOTS, { recursive: true });
    const context = await chromium.browser.createBrowserContext();
    page = await context.newPage();
    await page.emulateTimezone("Europe/Moscow");
    await page.setViewport(DESKTOP);
    page.on("request", (r) => requests.push(r.url()));
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      d.dismiss().catch(() => {});
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    await page.evaluateOnNewDocument(() =>
      document.addEventListener("securitypolicyviolation", (e) => console.error(`policy violation: ${e.violatedDirective}`)),
    );
    page.on("console", (m) => {
      // A failed request is logged by Chromium as it should be; anything else is a problem.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
    });
    origin.respond = (r) => (r.url === "/console" ? { status: 500 } : { status: 204 });
  });

  after(() => {
    origin.respond = () => ({ status: 204 });
  });

  inBrowser("a wrong token is refused and asked for again; nothing is kept", async () => {
    const res = await page.goto(`${edge.url}/admin/`);
    assert.equal(res.headers()["content-security-policy"], CSP);
    assert.equal(await page.$eval("#app", (el) => el.hidden), true, "no data before the token");
    await signIn("not-the-token-not-the-token-not-the-token");
    assert.match(await textOf("#sign-in-error", /refused/), /refused this token/);
    assert.equal(await page.$eval("#app", (el) => el.hidden), true);
    assert.equal(await page.$eval("#token", (el) => el.value), "");
    assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0);
  });

  inBrowser("with the token: the overview, a dead event, and the origin going down", async () => {
    await signIn(TOKEN);
    assert.equal(await textOf("#ov-version", new RegExp(VERSION.replaceAll(".", "\\."))), VERSION);
    assert.deepEqual(
      await page.evaluate(() => [sessionStorage.getItem("webim-edge.admin-token") !== null, localStorage.length, document.cookie]),
      [true, 0, ""],
    );
    assert.deepEqual(await page.cookies(), []);
    assert.equal(await page.$eval("#ov-settings", (el) => el.textContent), "Every setting is valid.");

    // Two chats fail: the first event dies at its first attempt (MAX_ATTEMPTS=1); the second
    // failure in a row, from a second event, marks the origin down (ORIGIN_DOWN_AFTER=2), and
    // that event waits, probed, instead of dying.
    assert.equal((await edge.deliver("chat_started", sampleChat({ id: "7001" }))).status, 202);
    await eventually(async () => (await edge.send("/admin/dead", bearer())).json.total === 1, 10000, "the first death");
    assert.equal((await edge.deliver("chat_started", sampleChat({ id: "7002" }))).status, 202);
    await refreshUntil("#overview-refresh", "#ov-origins", /ORIGIN_URL\s*down/, "the origin shown down");
    assert.equal(await page.$eval("#ov-down", (el) => el.textContent), "1");
    assert.equal(await page.$eval("#ov-dead", (el) => el.textContent), "1");
    assert.equal(await page.$eval("#ov-waiting", (el) => el.textContent), "1");
    assert.equal(await page.$eval("#ov-mode span", (el) => el.textContent), "outbox");
    const since = await page.$eval("#ov-origins time", (el) => [el.getAttribute("datetime"), el.title, el.textContent]);
    assert.ok(Date.parse(since[0]) > 0);
    assert.match(since[1], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$/, "UTC on hover");
    assert.notEqual(since[2], since[1], "shown in local time");
    await shot("overview");

    // The origin answers again (but for one chat): a probe finds it up, the waiting chat goes.
    origin.respond = (r) => (r.url === "/console" && JSON.parse(r.body).chat.id === HOSTILE ? { status: 500 } : { status: 204 });
    await refreshUntil("#overview-refresh", "#ov-origins", /ORIGIN_URL\s*up/, "the origin shown up again");
    await eventually(() => origin.received.some((r) => r.status === 204 && JSON.parse(r.body).chat.id === "7002"), 10000, "the waiting event delivered");
    // One failure alone leaves the origin up; that chat's event dies.
    assert.equal((await edge.deliver("chat_started", sampleChat({ id: HOSTILE }))).status, 202);
    await refreshUntil("#overview-refresh", "#ov-dead", /^2$/, "two dead events in the overview");
    assert.equal(await page.$eval("#ov-down", (el) => el.textContent), "0");
  });

  inBrowser("dead events: listed newest first, filtered, a hostile chat id shown as text", async () => {
    await page.click('a[href="#dead"]');
    await textOf("#dead-summary", /2 dead events/);
    const rows = await page.$$eval("#dead-rows tr", (trs) => trs.map((tr) => tr.querySelector("code").textContent));
    assert.deepEqual(rows, [hostile, started], "newest first");
    // The id reads as its characters; no element was made of it and nothing ran.
    const cells = await page.$$eval("#dead-rows .chat-cell", (tds) => tds.map((td) => td.textContent));
    assert.ok(cells.includes(`“${HOSTILE}”`), cells.join(" | "));
    assert.equal(await page.$$eval("img", (imgs) => imgs.length), 0);
    await shot("dead");

    await page.type("#f-chat", "7001");
    await page.click("#dead-filter button[type=submit]");
    await textOf("#dead-summary", /1 dead event match/);
    assert.deepEqual(await page.$$eval("#dead-rows code", (c) => c.map((e) => e.textContent)), [started]);
    await page.select("#f-type", "chat_closed");
    await page.click("#dead-filter button[type=submit]");
    await textOf("#dead-summary", /No dead event matches this filter/);
    await page.click("#f-clear");
    await textOf("#dead-summary", /2 dead events in all/);
  });

  inBrowser("replaying the selected event delivers it; the chat's view follows it to delivered", async () => {
    // The list refreshes itself (keeping what is selected): a click that lands while its rows
    // are redrawn is made again.
    const box = `#dead-rows input[data-id="${started}"]`;
    await eventually(async () => {
      if (!(await page.$eval(box, (el) => el.checked))) await page.click(box);
      return (await page.$eval("#replay-selected", (el) => el.textContent)) === "Replay selected (1)";
    }, 5000, "the event selected");
    await page.click("#replay-selected");
    await textOf("#replay-result", /Replayed 1 event/);
    await textOf("#dead-summary", /1 dead event in all/);
    await eventually(() => origin.received.some((r) => r.url === "/console" && r.status === 204 && JSON.parse(r.body).id === started), 15000, "the replayed event delivered");

    // From the dead list to the chat: its events with every attempt, refreshed while open.
    // Asked again when a slow machine answers only after the view has redrawn.
    await page.click('a[href="#chat"]');
    await page.waitForSelector("#chat-id", { visible: true });
    await eventually(async () => {
      await page.$eval("#chat-id", (el) => { el.value = "7001"; });
      await page.focus("#chat-id");
      await page.keyboard.press("Enter");
      return textOf("#chat-body .event .badge", /delivered/, 5000).then(() => true, () => false);
    }, 30000, "the chat's view showing the replayed event delivered");
    const attempts = await page.$$eval("#chat-body .attempts tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.ok(attempts.length >= 2, JSON.stringify(attempts));
    assert.equal(attempts[0][2], "500");
    assert.equal(attempts.at(-1)[2], "204");
    assert.match(await page.$eval("#chat-updated", (el) => el.textContent), /following it/);
    await shot("chat");
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    await shot("chat-phone", PHONE);
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
    await page.setViewport(DESKTOP);
  });

  inBrowser("a hostile chat id typed in the chat view stays text", async () => {
    await page.$eval("#chat-id", (el) => { el.value = ""; });
    await page.type("#chat-id", HOSTILE);
    await page.keyboard.press("Enter");
    const title = await textOf("#chat-body .chat-title", /Chat/);
    assert.equal(title, `Chat “${HOSTILE}”`);
    assert.equal(await page.$$eval("img", (imgs) => imgs.length), 0);
    await textOf("#chat-body .event .badge", /dead/);
    // An empty id is a chat id like any other: the outbox holds nothing for it here.
    await page.$eval("#chat-id", (el) => { el.value = ""; });
    await page.keyboard.press("Enter");
    await textOf("#chat-body", /holds nothing for the chat “”/);
  });

  inBrowser("replaying everything that matches: counted, confirmed, done in steps", async () => {
    origin.respond = () => ({ status: 204 });
    await page.click('a[href="#dead"]');
    await textOf("#dead-summary", /1 dead event in all/);
    assert.equal(await page.$eval("#replay-all", (el) => el.textContent), "Replay all 1 matching…");
    await page.click("#replay-all");
    assert.match(await textOf("#replay-confirm-text", /Replay all/), /Replay all 1 dead event that match \(no filter\)/);
    await page.click("#replay-confirm-yes");
    await textOf("#replay-result", /Replayed 1 event/);
    await textOf("#dead-summary", /No dead events/);
    await eventually(() => origin.received.some((r) => r.url === "/console" && r.status === 204 && JSON.parse(r.body).id === hostile), 15000, "the hostile chat's event delivered");
    await page.click('a[href="#overview"]');
    await refreshUntil("#overview-refresh", "#ov-dead", /^0$/, "no dead event left");
    assert.match(await page.$eval("#ov-origins", (el) => el.textContent), /ORIGIN_URL\s*up/);
  });

  inBrowser("a network error is said, and clears once the edge answers again", async () => {
    await page.click('a[href="#overview"]');
    await page.setOfflineMode(true);
    await page.click("#overview-refresh");
    assert.match(await textOf("#notice", /network error/), /Could not reach the edge/);
    await page.setOfflineMode(false);
    await page.click("#overview-refresh");
    await page.waitForSelector("#notice", { hidden: true });
  });

  inBrowser("an edge without the outbox says so", async () => {
    const bare = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/bare`, ADMIN_TOKEN: TOKEN }, { listen: true });
    edges.push(bare);
    const other = await page.browserContext().newPage();
    try {
      await other.goto(`${bare.url}/admin/`);
      await other.type("#token", TOKEN);
      await other.keyboard.press("Enter");
      await other.waitForFunction(() => /outbox is not configured/.test(document.querySelector("#notice").textContent), { timeout: 15000 });
      assert.equal(await other.$eval("#ov-version", (el) => el.textContent), VERSION);
      // The policy is in force: an inline script does not run.
      const ran = await other.evaluate(() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.body.append(script);
        return window.inlineRan === true;
      });
      assert.equal(ran, false);
    } finally {
      await other.close();
    }
  });

  inBrowser("signing out forgets the token and what was shown", async () => {
    await page.click("#sign-out");
    await page.waitForSelector("#token", { visible: true });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.$$eval("#dead-rows tr, #chat-body .event, #ov-origins tr", (els) => els.length), 0);
  });

  inBrowser("nothing left for another host, no dialog opened, no policy violation", () => {
    assert.ok(requests.length > 5, "requests were recorded");
    const elsewhere = requests.filter((url) => !url.startsWith("data:") && new URL(url).origin !== edge.url);
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(problems, []);
  });
});
