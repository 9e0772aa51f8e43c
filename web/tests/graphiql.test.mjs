// GraphiQL at /graphql (issue 16) in Debian's Chromium against the real server: a query
// typed and run through the UI, a mutation with the token set in the Headers pane, and
// a subscription over the WebSocket — with no CSP violation and no request to any host
// but the server. A screenshot lands in web/test-results/screenshots/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { eventually, startServer } from "./server.mjs";

const SHOTS = new URL("../test-results/screenshots/", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

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

/** A page on /graphql that records CSP violations, foreign requests and page errors. */
async function openGraphiql() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const seen = { violations: [], foreign: [], errors: [] };
  await page.exposeFunction("reportViolation", (text) => seen.violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      window.reportViolation(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) seen.violations.push(message.text());
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol === "data:") return;
    if (!LOOPBACK.has(url.hostname)) seen.foreign.push(request.url());
  });
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  const response = await page.goto(`${server.base}/graphql`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"], /script-src 'self';/);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror");
  return { page, seen };
}

/** The text of a CodeMirror editor of GraphiQL (`.graphiql-query-editor`, …). */
function editorText(page, selector) {
  return page.evaluate((s) => document.querySelector(`${s} .CodeMirror`).CodeMirror.getValue(), selector);
}

/** Replaces the text of an editor by typing, as a person would. CodeMirror closes
 * brackets and quotes itself and steps over them when they are typed, so the typed
 * text comes out as is. */
async function typeInto(page, selector, text) {
  await page.click(`${selector} .CodeMirror`);
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.type(text);
  await page.keyboard.press("Escape"); // closes an open completion list
  assert.equal(await editorText(page, selector), text);
}

async function run(page) {
  await page.click(".graphiql-execute-button");
}

/** Waits for the response pane to show JSON matching `check`, and returns it. */
async function response(page, check) {
  let text = "";
  try {
    return await eventually(async () => {
      text = await editorText(page, ".result-window");
      try {
        const json = JSON.parse(text);
        return check(json) ? json : null;
      } catch {
        return null;
      }
    });
  } catch (error) {
    throw new Error(`${error.message}; the response pane shows: ${text}`);
  }
}

async function finish(page, seen) {
  assert.deepEqual(seen.violations, [], "CSP violations");
  assert.deepEqual(seen.foreign, [], "requests to hosts other than the server");
  assert.deepEqual(seen.errors, [], "errors in the page");
  await page.context().close();
}

test("a query typed into GraphiQL runs, under the console's CSP and from our own origin only", async () => {
  const { page, seen } = await openGraphiql();
  await typeInto(page, ".graphiql-query-editor", "{ status { headline } }");
  await run(page);
  const answer = await response(page, (json) => json.data?.status);
  assert.deepEqual(answer, { data: { status: { headline: "OPERATIONAL" } } });
  // The schema came through (introspection within the server's depth limit): the
  // documentation explorer lists the root types.
  await page.click('[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector(".graphiql-doc-explorer >> text=SubscriptionRoot");
  await page.screenshot({ path: `${SHOTS}graphiql.png` });
  await finish(page, seen);
});

test("a mutation with the console token typed into GraphiQL's Headers pane", async () => {
  const { page, seen } = await openGraphiql();
  const mutation = "mutation { setSubscriptionsOpen(open: false) }";
  await typeInto(page, ".graphiql-query-editor", mutation);
  await run(page);
  const refused = await response(page, (json) => json.errors);
  assert.equal(refused.errors[0].extensions.code, "UNAUTHENTICATED");

  await page.click("button:text-is('Headers')");
  await typeInto(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", `{"Authorization": "Bearer ${server.token}"}`);
  await run(page);
  await response(page, (json) => json.data?.setSubscriptionsOpen === false);
  const status = await server.gql("{ status { site { subscriptionsOpen } } }", {}, { auth: false });
  assert.equal(status.status.site.subscriptionsOpen, false);
  await server.gql("mutation { setSubscriptionsOpen(open: true) }");
  await finish(page, seen);
});

test("a subscription in GraphiQL gets the current status, then a change, over the WebSocket", async () => {
  const { page, seen } = await openGraphiql();
  const sockets = [];
  page.on("websocket", (socket) => sockets.push(socket.url()));
  await typeInto(page, ".graphiql-query-editor", "subscription { statusChanged { headline } }");
  await run(page);
  await response(page, (json) => json.data?.statusChanged?.headline === "OPERATIONAL");
  await server.gql(
    `mutation($input: CreateIncidentInput!) { createIncident(input: $input) { id } }`,
    { input: { title: "Database slow", status: "CONFIRMED", severity: "OUTAGE", text: "Looking into it." } },
  );
  const changed = await response(page, (json) => json.data?.statusChanged?.headline !== "OPERATIONAL");
  assert.ok(changed.data.statusChanged.headline, JSON.stringify(changed));
  assert.deepEqual(sockets, [`${server.base.replace("http:", "ws:")}/graphql`]);
  await page.screenshot({ path: `${SHOTS}graphiql-subscription.png` });
  await finish(page, seen);
});
