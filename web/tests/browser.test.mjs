// Browser tests of the public pages: Debian's Chromium driven by playwright-core against
// the real server binary (see server.mjs), with axe-core on every page and screenshots
// (desktop and mobile) in web/test-results/screenshots/ for a person to look at.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { eventually, startServer } from "./server.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const SHOTS = new URL("../test-results/screenshots/", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newPage({ locale = "en-US", mobile = false } = {}) {
  const context = await browser.newContext({
    locale,
    timezoneId: "Europe/Berlin",
    viewport: mobile ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    isMobile: mobile,
    hasTouch: mobile,
  });
  const page = await context.newPage();
  // Any request to another host would break the "no third-party host" rule.
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["http:", "ws:", "data:"].includes(url.protocol) || url.host !== new URL(server.base).host) {
      if (url.protocol !== "data:") page.foreignRequests = [...(page.foreignRequests ?? []), request.url()];
    }
  });
  page.on("pageerror", (error) => {
    page.errors = [...(page.errors ?? []), String(error)];
  });
  return page;
}

/** Closes a page after checking it asked no other host and threw nothing. */
async function done(page) {
  assert.deepEqual(page.foreignRequests ?? [], [], "requests to other hosts");
  assert.deepEqual(page.errors ?? [], [], "errors in the page");
  await page.context().close();
}

async function open(page, path) {
  const response = await page.goto(server.base + path);
  await page.waitForSelector("main h1");
  return response;
}

/** Waits (briefly) for the headline state: mutations reach the snapshot and the live
 * subscription within moments, not within the same instant. */
async function expectHeadline(page, state) {
  await page.waitForFunction((s) => document.querySelector("main h1")?.dataset.headline === s, state, {
    timeout: 5000,
  });
}

async function headline(page) {
  return (await page.textContent("main h1")).trim();
}

/** axe-core in the page; fails on any violation with a readable list. */
async function assertAccessible(page, label) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const { violations } = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
    return violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(result, [], `axe violations on ${label}`);
}

async function screenshots(path, name, setup) {
  for (const mobile of [false, true]) {
    const page = await newPage({ mobile });
    await open(page, path);
    if (setup) await setup(page);
    await page.screenshot({ path: `${SHOTS}${name}-${mobile ? "mobile" : "desktop"}.png`, fullPage: true });
    await done(page);
  }
}

const INCIDENT = `id status severity title path start end`;

async function create(input) {
  const data = await server.gql(`mutation($input: CreateIncidentInput!) { createIncident(input: $input) { ${INCIDENT} } }`, {
    input,
  });
  return data.createIncident;
}

async function resolve(id, text = "Fixed.") {
  await server.gql(`mutation($id: Int!, $text: String) { resolveIncident(id: $id, text: $text) { id } }`, { id, text });
}

test("operational: the headline is painted from the inlined state, with no request before it", async () => {
  const page = await newPage();
  const graphqlPosts = [];
  page.on("request", (r) => r.url().endsWith("/graphql") && r.method() === "POST" && graphqlPosts.push(r));
  const response = await open(page, "/");
  assert.equal(response.status(), 200);
  const html = await response.text();
  assert.match(html, /<script type="application\/json" id="monostat-state">\{"current"/);
  assert.equal(await headline(page), "Our product is up and running");
  assert.equal(graphqlPosts.length, 0, "the headline needed no GraphQL round trip");
  assert.equal(await page.getAttribute("main h1", "data-headline"), "OPERATIONAL");
  // Landmarks and footer links.
  assert.equal(await page.locator("header").count(), 1);
  assert.equal(await page.locator("footer a[href='/feed/atom']").count(), 1);
  assert.equal(await page.locator("footer a[href='/subscribe']").count(), 0, "subscriptions are closed by default");
  await assertAccessible(page, "/ (operational)");
  await done(page);
});

test("the headline follows the precedence of SPEC §3 for every state", async () => {
  // From the least to the most alarming, each one opened on top of the previous ones,
  // so each rung must win over all below it. (An alert joins an open partial or outage
  // incident instead of opening its own, so those come after it.)
  const ladder = [
    [{ status: "WATCHING", severity: "BUG", title: "Slow exports" }, "RECOVERING", "is recovering; we are monitoring"],
    [{ status: "CONFIRMED", severity: "MAINTENANCE", title: "Database upgrade" }, "MAINTENANCE", "is undergoing planned maintenance"],
    [{ status: "CONFIRMED", severity: "NOTICE", title: "New login page" }, "UP_WITH_NOTICE", "is up and running"],
    [{ status: "CONFIRMED", severity: "BUG", title: "PDF export fails" }, "KNOWN_ISSUE", "has a significant known issue"],
    [null, "MIGHT_HAVE_ISSUES", "might be having issues"],
    [{ status: "CONFIRMED", severity: "PARTIAL", title: "Search unavailable" }, "PARTIALLY_UNAVAILABLE", "is partially unavailable"],
    [{ status: "CONFIRMED", severity: "OUTAGE", title: "Everything is down", summary: "We are **on it**." }, "DOWN", "is down"],
  ];
  const page = await newPage();
  const opened = [];
  for (const [input, state, text] of ladder) {
    if (input) opened.push((await create({ ...input, text: `First update for ${input.title}.` })).id);
    else await server.opsgenie("create.json", "precedence-alert");
    await open(page, "/");
    await expectHeadline(page, state);
    assert.equal(await headline(page), `Our product ${text}`);
    await assertAccessible(page, `/ (${state})`);
    if (state === "DOWN") {
      await screenshots("/", "status-down");
    }
  }
  // Planned maintenance has its own list and does not change the headline.
  const planned = await create({
    status: "PLANNED",
    severity: "MAINTENANCE",
    title: "Network maintenance",
    start: new Date(Date.now() + 3 * 86_400_000).toISOString(),
  });
  await page.waitForSelector("#planned");
  assert.match(await page.textContent("section[aria-labelledby=planned]"), /Network maintenance/);
  assert.match(await page.textContent("section[aria-labelledby=planned]"), /Scheduled for/);
  await expectHeadline(page, "DOWN");
  await server.gql(`mutation($id: Int!) { updateIncident(id: $id, input: { newStatus: RESOLVED }) { id } }`, {
    id: planned.id,
  }).catch(() => {});
  // The suspected one shows that no details are known yet.
  assert.equal(await page.locator("text=No details yet").count(), 1);
  // Markdown arrives as sanitised HTML.
  assert.equal(await page.locator(".prose strong", { hasText: "on it" }).count(), 1);
  await server.opsgenie("close.json", "precedence-alert");
  for (const id of opened) await resolve(id);
  await open(page, "/");
  await expectHeadline(page, "OPERATIONAL");
  assert.equal(await headline(page), "Our product is up and running");
  assert.ok((await page.locator("#recent ~ article").count()) >= 6, "resolved incidents are listed as recent");
  await done(page);
});

test("an OpsGenie alert turns an open page to 'might be having issues' without reload", async () => {
  const page = await newPage();
  await open(page, "/");
  await expectHeadline(page, "OPERATIONAL");
  // Let the live connection come up, then fire the alert.
  await page.waitForTimeout(300);
  let navigations = 0;
  page.on("framenavigated", () => navigations++);
  await server.opsgenie("create.json", "live-alert");
  await expectHeadline(page, "MIGHT_HAVE_ISSUES");
  assert.match(await headline(page), /might be having issues/);
  assert.equal(navigations, 0, "no reload");
  const announced = await page.textContent("[aria-live]");
  assert.match(announced, /Status changed: Our product might be having issues/);
  await screenshots("/", "status-suspected");
  await server.opsgenie("close.json", "live-alert");
  await expectHeadline(page, "OPERATIONAL");
  await done(page);
});

test("incident pages: details, timeline, and 404 for a wrong date or unknown id", async () => {
  const incident = await create({
    status: "CONFIRMED",
    severity: "PARTIAL",
    title: "Uploads fail",
    summary: "Uploads larger than 10 MB fail. <script>alert(1)</script>",
    text: "We are looking into failing uploads.",
  });
  await server.gql(`mutation($id: Int!) { updateIncident(id: $id, input: { newStatus: WATCHING, text: "A fix is deployed." }) { id } }`, {
    id: incident.id,
  });
  await resolve(incident.id, "Uploads work again.");
  const page = await newPage();
  const response = await open(page, incident.path);
  assert.equal(response.status(), 200);
  assert.equal(await headline(page), "Uploads fail");
  assert.equal(await page.locator(".timeline li").count(), 3);
  const first = await page.textContent(".timeline li:first-child");
  assert.match(first, /Resolved/);
  assert.match(first, /Uploads work again/);
  assert.equal(await page.locator(".prose script").count(), 0, "no script from Markdown");
  assert.match(await page.textContent(".prose"), /<script>alert\(1\)<\/script>/, "raw HTML shows as text");
  assert.equal(await page.title(), "Uploads fail – Our product status");
  await assertAccessible(page, incident.path);
  await screenshots(incident.path, "incident");

  const [, date, id] = incident.path.split("/");
  const wrongDate = date === "2020-01-01" ? "2020-01-02" : "2020-01-01";
  for (const path of [`/${wrongDate}/${id}`, `/${date}/999999`, "/no/such/page", "/2026-02-30"]) {
    const notFound = await open(page, path);
    assert.equal(notFound.status(), 404, path);
    assert.equal(await headline(page), "Page not found", path);
  }
  await assertAccessible(page, "404");
  await screenshots("/no-such-page", "not-found");
  await done(page);
});

test("history shows twelve months with the worst severity per day, and the day page lists them", async () => {
  const page = await newPage();
  const response = await open(page, "/history");
  assert.equal(response.status(), 200);
  await page.waitForSelector(".month");
  const months = await page.locator(".month").count();
  assert.equal(months, 12, "12 month calendars");
  assert.equal(await page.locator(".legend li").count(), 6);
  // Today had a confirmed outage (the precedence test): the worst of the day.
  const today = await page.evaluate(() => new Date().toISOString().slice(0, 10));
  const link = page.locator(`a.day[href='/${today}']`);
  // Days after today are blank.
  const dayOfMonth = Number(today.slice(8));
  const thisMonth = page.locator(".month").first();
  assert.equal(await thisMonth.locator(".day").count(), dayOfMonth);
  assert.match(await link.getAttribute("aria-label"), /Outage/);
  await assertAccessible(page, "/history");
  await screenshots("/history", "history");

  await link.click();
  await page.waitForURL(`**/${today}`);
  await page.waitForSelector("main article");
  assert.match(await headline(page), /^Incidents on /);
  assert.ok((await page.locator("main article").count()) >= 7);
  // Client-side navigation moved focus to the new heading.
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), "H1");
  await assertAccessible(page, `/${today}`);
  await screenshots(`/${today}`, "day", (p) => p.waitForSelector("main article"));
  await done(page);
});

test("subscribe, confirm through the link in the mail, unsubscribe", async () => {
  const closed = await newPage();
  assert.equal((await closed.goto(`${server.base}/subscribe`)).status(), 404);
  await done(closed);
  await server.gql(`mutation { setSubscriptionsOpen(open: true) }`);

  const page = await newPage();
  await open(page, "/");
  await eventually(async () => (await page.locator("footer a[href='/subscribe']").count()) === 1);
  await page.click("footer a[href='/subscribe']");
  await page.waitForSelector("form");
  await assertAccessible(page, "/subscribe");
  await screenshots("/subscribe", "subscribe");
  // Consent is required.
  await page.fill("#email", "visitor@example.com");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("[role=alert]"), /agree/);
  await page.check("#consent");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Almost done");
  await assertAccessible(page, "/subscribe (done)");

  const optIn = await eventually(() => server.mails().find((mail) => mail.includes("visitor@example.com")));
  const confirmUrl = /(http:\/\/127\.0\.0\.1:\d+\/subscribe\/confirm\/[A-Za-z0-9_-]+)/.exec(optIn)[1];
  await page.goto(confirmUrl);
  assert.match(await page.textContent("h1"), /Confirm your subscription/);
  await assertAccessible(page, "confirm page");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=You are subscribed");

  // A confirmed incident is mailed; its mail carries the unsubscribe link.
  const incident = await create({ status: "CONFIRMED", severity: "OUTAGE", title: "Mail test outage" });
  const notification = await eventually(() =>
    server.mails().find((mail) => mail.includes("Mail test outage") && mail.includes("/unsubscribe/")),
  );
  const unsubscribeUrl = /(http:\/\/127\.0\.0\.1:\d+\/unsubscribe\/[A-Za-z0-9_-]+)/.exec(notification)[1];
  await page.goto(unsubscribeUrl);
  await assertAccessible(page, "unsubscribe page");
  await page.screenshot({ path: `${SHOTS}unsubscribe-desktop.png` });
  await page.click("button[type=submit]");
  await page.waitForSelector("text=You are unsubscribed");
  await resolve(incident.id);
  await done(page);
});

test("German from the browser's language, and switchable", async () => {
  // Its own precondition, not the previous test's leftover: the footer links to the
  // subscription form only while subscriptions are open.
  await server.gql(`mutation { setSubscriptionsOpen(open: true) }`);
  const page = await newPage({ locale: "de-DE" });
  await open(page, "/");
  await expectHeadline(page, "OPERATIONAL");
  assert.equal(await page.getAttribute("html", "lang"), "de");
  assert.equal(await headline(page), "Our product läuft");
  await page.locator("footer a", { hasText: "Abonnieren" }).waitFor({ timeout: 5000 });
  await assertAccessible(page, "/ (de)");
  await page.screenshot({ path: `${SHOTS}status-de-desktop.png`, fullPage: true });
  assert.equal(await page.title(), "Status von Our product");
  await page.selectOption("footer select", "en");
  await page.waitForFunction(() => document.documentElement.lang === "en", null, { timeout: 5000 });
  assert.equal(await headline(page), "Our product is up and running");
  assert.equal(await page.title(), "Our product status");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  // The choice is remembered.
  await open(page, "/history");
  assert.equal(await headline(page), "History");
  await done(page);
});

test("a lost connection shows a discreet stale notice, and the page catches up when it is back", async () => {
  const page = await newPage();
  let reachable = true;
  let socket;
  // Stand between the page and the server's WebSocket, to cut it at will.
  await page.routeWebSocket(/\/graphql$/, (ws) => {
    if (!reachable) return ws.close();
    socket = ws;
    ws.connectToServer();
  });
  await open(page, "/");
  await expectHeadline(page, "OPERATIONAL");
  await eventually(() => socket);
  assert.equal(await page.locator(".stale").count(), 0);

  reachable = false;
  await socket.close();
  await page.waitForSelector(".stale", { timeout: 10_000 });
  assert.match(await page.textContent(".stale"), /Live updates paused; this page shows the status as of/);
  await assertAccessible(page, "/ (stale)");
  await page.screenshot({ path: `${SHOTS}status-stale-desktop.png` });

  // What happens meanwhile is shown as soon as the connection is back.
  await server.opsgenie("create.json", "while-offline");
  reachable = true;
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  await expectHeadline(page, "MIGHT_HAVE_ISSUES");
  await page.waitForSelector(".stale", { state: "detached", timeout: 10_000 });
  await server.opsgenie("close.json", "while-offline");
  await expectHeadline(page, "OPERATIONAL");
  await done(page);
});

test("the widget on another site shows a banner while something is wrong, and goes away", async () => {
  const { createServer } = await import("node:http");
  // The product's own site, on another origin, embedding one script tag.
  const host = createServer((request, response) => {
    response.setHeader("content-type", "text/html; charset=utf-8");
    response.end(
      `<!doctype html><html lang="en"><head><title>Shop</title></head><body><h1>Shop</h1>` +
        `<script src="${server.base}/widget.js" async data-lang="de"></script></body></html>`,
    );
  });
  await new Promise((resolve) => host.listen(0, "127.0.0.1", resolve));
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  try {
    await page.goto(`http://127.0.0.1:${host.address().port}/`);
    const bannerHeight = () =>
      page.evaluate(() => document.querySelector("[data-monostat-widget]")?.offsetHeight ?? -1);
    await page.waitForFunction(() => document.querySelector("[data-monostat-widget]"));
    assert.equal(await bannerHeight(), 0, "nothing shows while all is well");
    await page.waitForTimeout(500);
    await server.opsgenie("create.json", "widget-alert");
    await page.waitForFunction(
      () => document.querySelector("[data-monostat-widget]").offsetHeight > 0,
      null,
      { timeout: 5000 },
    );
    await page.screenshot({ path: `${SHOTS}widget-suspected.png` });
    // The host page keeps its own look: the widget's styles live in its shadow root.
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector("h1")).color), "rgb(0, 0, 0)");
    await server.opsgenie("close.json", "widget-alert");
    await page.waitForFunction(
      () => document.querySelector("[data-monostat-widget]").offsetHeight === 0,
      null,
      { timeout: 5000 },
    );
    assert.deepEqual(errors, [], "the widget never breaks the host page");
  } finally {
    await context.close();
    host.close();
  }
});
