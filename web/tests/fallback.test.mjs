// The status page on a server that refuses every live socket (MONOSTAT_MAX_SOCKETS=0,
// as a full replica would): it says live updates are paused, and still follows the
// status by asking for it every 30 seconds. The page's clock is Playwright's, so half
// a minute passes in an instant.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { eventually, startServer } from "./server.mjs";

const SHOTS = new URL("../test-results/screenshots/", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ env: { MONOSTAT_MAX_SOCKETS: "0" } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The page's headline state, after letting its timers run for `ms`. */
async function headlineAfter(page, ms) {
  await page.clock.runFor(ms);
  return page.evaluate(() => document.querySelector("main h1")?.dataset.headline);
}

test("with every live socket refused, the page polls the status and follows it", async () => {
  const context = await browser.newContext({ locale: "en-US", timezoneId: "Europe/Berlin" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  const frames = [];
  page.on("websocket", (ws) => ws.on("framereceived", (frame) => frames.push(frame.payload)));
  const polls = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname === "/graphql" && request.method() === "GET" && url.searchParams.has("query")) {
      polls.push(request.url());
    }
  });

  await page.clock.install();
  await page.goto(server.base + "/");
  await page.waitForSelector("main h1");
  assert.equal(await headlineAfter(page, 0), "OPERATIONAL");

  // Past the offline grace: the notice, and the first poll.
  await page.clock.runFor(5_000);
  await page.waitForSelector(".stale", { timeout: 5_000 });
  assert.match(await page.textContent(".stale"), /Live updates paused/);
  await eventually(() => polls.length >= 1);

  await server.opsgenie("create.json", "fallback-alert");
  // The next poll comes within 22.5–37.5 s of the last; a minute of page time is
  // at most two polls, and the snapshot follows the alert within moments.
  await eventually(async () => (await headlineAfter(page, 10_000)) === "MIGHT_HAVE_ISSUES", {
    timeout: 20_000,
    interval: 200,
  });
  assert.match(await page.textContent("main h1"), /might be having issues/);
  assert.match(await page.textContent("[aria-live]"), /Status changed: Our product might be having issues/);
  await page.screenshot({ path: `${SHOTS}status-polling-desktop.png`, fullPage: true });

  await server.opsgenie("close.json", "fallback-alert");
  await eventually(async () => (await headlineAfter(page, 10_000)) === "OPERATIONAL", {
    timeout: 20_000,
    interval: 200,
  });

  assert.deepEqual(frames, [], "no socket was ever served");
  assert.ok(polls.length >= 2, `${polls.length} polls`);
  // Polls are spaced by about 30 s of page time, not hammered.
  assert.ok(polls.length <= 12, `${polls.length} polls`);
  assert.deepEqual(errors, [], "errors in the page");
  await context.close();
});
