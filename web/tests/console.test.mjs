// Browser tests of the admin console (/admin/): Chromium via playwright-core against the
// real server (server.mjs) on `localhost` (WebAuthn binds keys to a host name), with
// axe-core on every console page and screenshots in test-results/screenshots/console-*.
// The one stand-in is a local HTTP server playing Slack's Web API.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { eventually, PASSWORD, startServer } from "./server.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const SHOTS = new URL("../test-results/screenshots/", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server;
let browser;
let slack;
/** What the Slack stand-in answers: refuse the token until a test says otherwise. */
let slackWorks = false;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  slack = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.setHeader("content-type", "application/json");
      if (!slackWorks) return response.end(JSON.stringify({ ok: false, error: "invalid_auth" }));
      const channel = { id: "C0STATUS", name: "status", is_member: true };
      response.end(
        JSON.stringify({
          ok: true,
          channels: [channel],
          channel,
          ts: "1700000000.000100",
          permalink: "https://example.slack.com/archives/C0STATUS/p1700000000000100",
          response_metadata: { next_cursor: "" },
          user_id: "U0BOT",
          team: "Example",
          user: "monostat",
        }),
      );
    });
  });
  await new Promise((done) => slack.listen(0, "127.0.0.1", done));
  server = await startServer({
    host: "localhost",
    opsgenieSecret: null,
    env: { MONOSTAT_SLACK_API_URL: `http://127.0.0.1:${slack.address().port}/api/` },
  });
  const sources = await server.gql(`{ alertSources { source webhookUrl } }`);
  server.opsgenieUrl = sources.alertSources.find((s) => s.source === "OPSGENIE").webhookUrl;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  slack?.close();
});

async function newPage({ mobile = false } = {}) {
  const context = await browser.newContext({
    locale: "en-US",
    timezoneId: "Europe/Berlin",
    viewport: mobile ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    isMobile: mobile,
    hasTouch: mobile,
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => {
    page.errors = [...(page.errors ?? []), String(error)];
  });
  // Confirmation dialogs (delete, rotate) are accepted.
  page.on("dialog", (dialog) => dialog.accept());
  return page;
}

async function done(page) {
  assert.deepEqual(page.errors ?? [], [], "errors in the page");
  await page.context().close();
}

async function heading(page, text) {
  await page.waitForFunction((t) => document.querySelector("main h1")?.textContent?.includes(t), text, { timeout: 10_000 });
}

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

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}console-${name}.png`, fullPage: true });
}

async function login(page, username = "admin", password = PASSWORD) {
  await page.goto(`${server.base}/admin/`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** A logged-in admin page at `path`. */
async function adminAt(path, options) {
  const page = await newPage(options);
  await login(page);
  await heading(page, "Incidents");
  if (path !== "/admin/") {
    await page.evaluate((p) => {
      history.pushState(null, "", p);
      dispatchEvent(new PopStateEvent("popstate"));
    }, path);
  }
  return page;
}

/** RFC 6238 with SHA-1, six digits, 30 s steps; `step` defaults to now. */
function totp(secretBase32, step = Math.floor(Date.now() / 30_000)) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secretBase32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const hmac = createHmac("sha1", key).update(counter).digest();
  const offset = hmac[hmac.length - 1] & 0xf;
  const code = (hmac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

const PAGES = [
  ["/admin/", "Incidents"],
  ["/admin/incidents/new", "New incident"],
  ["/admin/settings/site", "Site settings"],
  ["/admin/settings/notifications", "Notification settings"],
  ["/admin/settings/slack", "Slack"],
  ["/admin/settings/alerts", "Alert sources"],
  ["/admin/subscribers", "Subscribers"],
  ["/admin/users", "Users"],
  ["/admin/jobs", "Jobs"],
  ["/admin/audit", "Audit log"],
  ["/admin/account", "My account"],
];

test("the console page is served under /admin/ without caching or inlined state", async () => {
  for (const path of ["/admin", "/admin/", "/admin/incidents/7", "/admin/settings/site"]) {
    const response = await fetch(server.base + path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("cache-control"), "no-store");
    const html = await response.text();
    assert.match(html, /src="\/assets\/admin-[^"]+\.js"/);
    assert.doesNotMatch(html, /monostat-state/);
  }
});

test("first login of a user made with `monostat createsuperuser`, session kept over a reload, logout", async () => {
  server.createSuperuser("first", "first-password-0123");
  const page = await newPage();
  await page.goto(`${server.base}/admin/`);
  await heading(page, "Log in");
  await assertAccessible(page, "login");
  await shot(page, "login");
  // Validation as you type, and the server's refusal in words.
  await page.getByLabel("Username").fill("first");
  await page.getByLabel("Username").fill("");
  await page.getByText("The username is required.").waitFor();
  await page.getByLabel("Username").fill("first");
  await page.getByLabel("Password").fill("wrong-password-000");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".status.error").filter({ hasText: /\S/ }).waitFor();
  await page.getByLabel("Password").fill("first-password-0123");
  // Keyboard only: Enter in the field submits.
  await page.getByLabel("Password").press("Enter");
  await heading(page, "Incidents");
  assert.match(await page.textContent(".who"), /first/);
  // The access token lives in memory only; the refresh cookie brings the session back.
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)), "{}{}");
  await page.reload();
  await heading(page, "Incidents");
  await page.getByRole("button", { name: "Log out" }).click();
  await heading(page, "Log in");
  await page.reload();
  await heading(page, "Log in");
  await done(page);
});

test("creating an incident in the console shows it on the public page", async () => {
  const page = await adminAt("/admin/");
  await page.getByRole("link", { name: "New incident or maintenance" }).click();
  await heading(page, "New incident");
  await page.getByRole("button", { name: "Open incident" }).click();
  await page.getByText("The title is required.").waitFor();
  await page.getByLabel("Title").fill("Checkout fails for some cards");
  await page.getByLabel("Severity").selectOption("PARTIAL");
  await page.getByLabel("First timeline entry (Markdown)").fill("We are looking into **failed payments**.");
  await page.getByRole("button", { name: "Open incident" }).click();
  await heading(page, "Checkout fails for some cards");
  await assertAccessible(page, "incident detail");
  await shot(page, "incident-detail");
  const publicPath = await page.getByRole("link", { name: "Public page" }).getAttribute("href");
  const visitor = await newPage();
  await visitor.goto(server.base + publicPath);
  await visitor.waitForSelector("main h1");
  assert.match(await visitor.textContent("main"), /Checkout fails for some cards/);
  assert.match(await visitor.innerHTML("main"), /<strong>failed payments<\/strong>/);
  await done(visitor);
  await done(page);
});

test("a suspected incident from an OpsGenie webhook appears live and is confirmed in the console", async () => {
  // An alert joins an open incident; with none open it opens a suspected one.
  const open = await server.gql(`{ consoleIncidents(filter: { statuses: [SUSPECTED, CONFIRMED, WATCHING] }, first: 100) { incidents { id } } }`);
  for (const { id } of open.consoleIncidents.incidents) {
    await server.gql(`mutation($id: Int!) { resolveIncident(id: $id, doNotNotify: true) { id } }`, { id });
  }
  const page = await adminAt("/admin/");
  await page.getByLabel("Suspected").check();
  await page.getByText("No incidents match.").waitFor();
  await server.opsgenie("create.json", "console-confirm-alert");
  // No reload: the events subscription refreshes the list.
  const row = page.locator("tbody tr", { hasText: "opsgenie" }).first();
  await row.waitFor({ timeout: 10_000 });
  await row.getByRole("link").click();
  await page.locator("[data-status=SUSPECTED]").waitFor();
  assert.match(await page.textContent("section[aria-labelledby=alerts-h]"), /HTTP check https:\/\/app\.example\.com\/healthz/);
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.locator("[data-status=CONFIRMED]").waitFor();
  assert.match(await page.textContent("#audit-h + *"), /onfirm/);
  // Monitoring closes the alert: the open page follows without a reload.
  await server.opsgenie("close.json", "console-confirm-alert");
  await page.locator("section[aria-labelledby=alerts-h] tbody tr", { hasNotText: "open" }).waitFor({ timeout: 10_000 });
  await done(page);
});

test("the access token is renewed from the cookie a minute before it expires", async () => {
  const page = await newPage();
  await page.clock.install();
  const refreshes = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/graphql") && /refresh/.test(request.postData() ?? "")) refreshes.push(request);
  });
  await login(page);
  await heading(page, "Incidents");
  const before = refreshes.length; // the one on load, which found no cookie yet
  // Access tokens last 15 minutes; the renewal is due at 14.
  await page.clock.runFor(14 * 60 * 1000 + 1000);
  await eventually(() => refreshes.length > before);
  const answer = await refreshes.at(-1).response();
  assert.match(await answer.text(), /"accessToken":"/);
  await page.getByRole("link", { name: "Users" }).click();
  await page.locator("tr[data-user=admin]").waitFor();
  await done(page);
});

test("every console page passes axe, on desktop and phone", async () => {
  await server.opsgenie("create.json", "axe-alert");
  for (const mobile of [false, true]) {
    const page = await adminAt("/admin/", { mobile });
    for (const [path, title] of PAGES) {
      await page.evaluate((p) => {
        history.pushState(null, "", p);
        dispatchEvent(new PopStateEvent("popstate"));
      }, path);
      await heading(page, title);
      await page.waitForLoadState("networkidle");
      await assertAccessible(page, `${path}${mobile ? " (mobile)" : ""}`);
      await shot(page, `${path.replace(/^\/admin\/?/, "").replace(/\//g, "-") || "incidents"}-${mobile ? "mobile" : "desktop"}`);
    }
    await done(page);
  }
});

test("editing and deleting a timeline entry", async () => {
  const created = await server.gql(
    `mutation { createIncident(input: { title: "Search is slow", status: CONFIRMED, severity: BUG, text: "Looking into it." }) { id path } }`,
  );
  const { id, path } = created.createIncident;
  await server.gql(`mutation($id: Int!) { updateIncident(id: $id, input: { text: "Found a slow query." }) { id } }`, { id });
  const page = await adminAt(`/admin/incidents/${id}`);
  await heading(page, "Search is slow");
  const entry = page.locator(".timeline li", { hasText: "Found a slow query." });
  await entry.getByRole("button", { name: /^Edit/ }).click();
  const text = page.getByLabel("Entry text (Markdown)");
  await text.fill("");
  await page.getByText("The entry needs some text.").waitFor();
  await text.fill("Found a slow query in the search index.");
  await page.getByRole("button", { name: "Save entry" }).click();
  await page.locator(".timeline li", { hasText: "Found a slow query in the search index." }).waitFor();
  await eventually(async () => {
    const data = await server.gql(`query($id: Int!) { incident(id: $id) { updates { message } } }`, { id });
    return data.incident.updates.some((u) => u.message === "Found a slow query in the search index.");
  });
  await page.locator(".timeline li", { hasText: "Looking into it." }).getByRole("button", { name: /^Delete/ }).click();
  await eventually(async () => (await page.locator(".timeline li").count()) === 1);
  // A correction of the title: no update, no notification, on the public page.
  await page.getByLabel("Title").fill("Search is slow for some queries");
  await page.getByRole("button", { name: "Save corrections" }).click();
  await heading(page, "Search is slow for some queries");
  const visitor = await newPage();
  await visitor.goto(server.base + path);
  await visitor.waitForSelector("main h1");
  assert.match(await visitor.textContent("main"), /Search is slow for some queries/);
  assert.match(await visitor.textContent("main"), /in the search index/);
  assert.doesNotMatch(await visitor.textContent("main"), /Looking into it/);
  await done(visitor);
  await done(page);
});

test("\"do not notify\" keeps the mail back; the next change without it sends one", async () => {
  await server.gql(`mutation { addSubscriber(email: "reader@example.com", consented: true) { id active } }`);
  const title = "Login page returns errors";
  const page = await adminAt("/admin/incidents/new");
  await heading(page, "New incident");
  await page.getByLabel("Title").fill(title);
  await page.getByLabel("Do not notify subscribers about this change").check();
  await page.getByRole("button", { name: "Open incident" }).click();
  await heading(page, title);
  await page.getByLabel("Update (Markdown)").fill("A fix is deployed; we are watching.");
  await page.getByLabel("New status").selectOption("WATCHING");
  await page.getByRole("button", { name: "Post update" }).click();
  await page.locator("[data-status=WATCHING]").waitFor();
  const about = () => server.mails().filter((mail) => mail.includes(title) && mail.includes("reader@example.com"));
  await eventually(() => about().length >= 1, { timeout: 15_000 });
  // The confirmation was made with "do not notify": only the watching mail exists.
  assert.equal(about().length, 1);
  assert.match(about()[0], /watching|Watching|monitor/i);
  await page.locator("#progress-h").waitFor();
  await page.locator(".progress-line", { hasText: "1 of 1 sent" }).waitFor();
  await done(page);
});

test("uploading a logo shows it on the public page", async () => {
  const page = await adminAt("/admin/settings/site");
  await heading(page, "Site settings");
  // A 1×1 PNG.
  const png = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    "base64",
  );
  await page.setInputFiles("#logo-file", { name: "logo.png", mimeType: "image/png", buffer: png });
  await page.getByRole("button", { name: "Upload logo" }).click();
  await page.getByText("Logo uploaded.").waitFor();
  await page.locator("img.logo-current[alt='Current logo']").waitFor();
  const visitor = await newPage();
  await eventually(async () => {
    await visitor.goto(server.base + "/");
    await visitor.waitForSelector("main h1");
    return (await visitor.locator("header img").count()) > 0;
  });
  const src = await visitor.locator("header img").first().getAttribute("src");
  assert.match(src, /logo/);
  const logo = await fetch(new URL(src, server.base));
  assert.equal(logo.status, 200);
  await done(visitor);
  await done(page);
});

test("site settings: colours preview live with a contrast warning; a server error lands next to its field", async () => {
  const page = await adminAt("/admin/settings/site");
  await heading(page, "Site settings");
  await page.getByLabel("Links", { exact: true }).fill("#eeeeee");
  await page.locator("#contrast-warning").waitFor();
  assert.match(await page.textContent("#contrast-warning"), /Links on white/);
  const previewLink = await page.locator(".preview-body span").first().evaluate((el) => getComputedStyle(el).color);
  assert.equal(previewLink, "rgb(238, 238, 238)");
  await page.getByLabel("Links", { exact: true }).fill("#1d4ed");
  await page.getByText("Enter a colour as #rrggbb.").waitFor();
  await page.getByLabel("Links", { exact: true }).fill("#1d4ed8");
  await page.getByLabel("Time zone").fill("Mars/Olympus_Mons");
  await page.getByLabel("Product name").fill("Example Cloud");
  await page.getByRole("button", { name: "Save site settings" }).click();
  const error = page.locator(".field.invalid", { has: page.getByLabel("Time zone") }).locator(".error");
  await error.waitFor();
  assert.match(await error.textContent(), /IANA/);
  // The focus goes to the field to fix.
  assert.equal(await page.evaluate(() => document.activeElement?.id), await page.getByLabel("Time zone").getAttribute("id"));
  // Nothing typed is lost.
  assert.equal(await page.getByLabel("Product name").inputValue(), "Example Cloud");
  await shot(page, "site-error");
  await page.getByLabel("Time zone").fill("Europe/Berlin");
  await page.getByRole("button", { name: "Save site settings" }).click();
  await page.getByText(/^Saved\./).waitFor();
  await eventually(async () => {
    const status = await server.gql(`{ status { site { systemName timeZone } } }`);
    return status.status.site.systemName === "Example Cloud" && status.status.site.timeZone === "Europe/Berlin";
  });
  await done(page);
});

test("notification settings: closing subscriptions takes the public form away", async () => {
  const page = await adminAt("/admin/settings/notifications");
  await heading(page, "Notification settings");
  await page.getByLabel("Reply-to address").fill("support");
  await page.getByText("Enter an e-mail address like name@example.com.").waitFor();
  await page.getByLabel("Reply-to address").fill("support@example.com");
  await page.getByLabel("Visitors may subscribe to e-mail notifications").uncheck();
  await page.getByRole("button", { name: "Save notification settings" }).click();
  await page.getByText("Saved.").waitFor();
  await eventually(async () => (await fetch(`${server.base}/subscribe`)).status === 404);
  await page.getByLabel("Visitors may subscribe to e-mail notifications").check();
  await page.getByRole("button", { name: "Save notification settings" }).click();
  await eventually(async () => (await fetch(`${server.base}/subscribe`)).status === 200);
  const data = await server.gql(`{ notificationSettings { replyTo allowSubscriptions } }`);
  assert.deepEqual(data.notificationSettings, { replyTo: "support@example.com", allowSubscriptions: true });
  await done(page);
});

test("rotating the OpsGenie secret: the old URL is refused, the new one works", async () => {
  const page = await adminAt("/admin/settings/alerts");
  await heading(page, "Alert sources");
  const field = page.locator("#url-OPSGENIE");
  const oldUrl = await field.inputValue();
  assert.equal(oldUrl, server.opsgenieUrl);
  await page.locator("[data-source=OPSGENIE]").getByRole("button", { name: "Rotate secret" }).click();
  await eventually(async () => (await field.inputValue()) !== oldUrl);
  const newUrl = await field.inputValue();
  const body = readFileSync(new URL("../../api/tests/fixtures/opsgenie/create.json", import.meta.url), "utf8");
  const old = await fetch(oldUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
  assert.equal(old.status, 403);
  server.opsgenieUrl = newUrl;
  await server.opsgenie("close.json", "rotated-alert");
  // The test alert goes through the new URL, opened and closed, and says it is a test.
  await page.locator("[data-source=OPSGENIE]").getByRole("button", { name: "Send test alert" }).click();
  await page.getByText(/Test alert sent and closed/).waitFor();
  const incidents = await server.gql(`{ consoleIncidents(first: 100) { incidents { alerts { message resolved } } } }`);
  const alerts = incidents.consoleIncidents.incidents.flatMap((i) => i.alerts).filter((a) => /Test alert from the monostat console/.test(a.message));
  assert.equal(alerts.length, 1);
  assert.ok(alerts[0].resolved, "the test alert is closed");
  await done(page);
});

test("subscribers: CSV import with a report, export, and the export imported again", async () => {
  const page = await adminAt("/admin/subscribers");
  await heading(page, "Subscribers");
  const csv = "email\nann@example.com\nbob@example.com\nnot-an-address\nann@example.com\n";
  await page.setInputFiles("#csv-file", { name: "list.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByLabel("These people already agreed to receive notifications").check();
  await page.getByRole("button", { name: "Import" }).click();
  const report = page.locator("#import-report");
  await report.waitFor();
  assert.match(await report.textContent(), /2 added/);
  assert.match(await report.textContent(), /not-an-address/);
  await page.locator("tr[data-email='bob@example.com']").waitFor();
  await page.getByLabel("Search addresses").fill("bob@");
  await eventually(async () => (await page.locator("tbody tr").count()) === 1);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  const exported = readFileSync(await download.path(), "utf8");
  assert.match(exported, /ann@example\.com/);
  assert.match(exported, /bob@example\.com/);
  const file = `${SHOTS}../exported.csv`;
  writeFileSync(file, exported);
  await page.setInputFiles("#csv-file", file);
  await page.getByRole("button", { name: "Import" }).click();
  await eventually(async () => /0 added/.test((await report.textContent()) ?? ""));
  assert.match(await report.textContent(), /already on the list/);
  await page.locator("tr[data-email='bob@example.com']").getByRole("button", { name: /Remove/ }).click();
  await page.getByText("bob@example.com removed.").waitFor();
  await done(page);
});

test("Slack: the test button says what is wrong; a dead Slack job is retried from the jobs page", async () => {
  const page = await adminAt("/admin/settings/slack");
  await heading(page, "Slack");
  await page.getByLabel("Bot token").fill("not-a-token");
  await page.getByText("The bot token starts with xoxb-.").waitFor();
  await page.getByLabel("Bot token").fill("xoxb-browser-test");
  await page.getByLabel("Channel", { exact: true }).fill("#status");
  // Who may act: only listed people instead of the channel's members.
  await page.getByRole("radio", { name: "Only these user ids" }).check();
  await page.getByLabel("Slack user ids").fill("u0abc5678, <@U0DEF9012>");
  await page.getByRole("button", { name: "Save Slack settings" }).click();
  await page.getByText(/^Saved\./).waitFor();
  assert.equal(await page.getByLabel("Slack user ids").inputValue(), "U0ABC5678, U0DEF9012");
  const saved = await server.gql(`{ slackSettings { allowedUserIds } }`);
  assert.deepEqual(saved.slackSettings.allowedUserIds, ["U0ABC5678", "U0DEF9012"]);
  await page.getByRole("button", { name: "Test the connection" }).click();
  await page.locator("#slack-check").waitFor();
  assert.match(await page.textContent("#slack-check"), /does not work/);
  await shot(page, "slack-check");
  await server.gql(`mutation { createIncident(input: { title: "Slack job test", status: CONFIRMED, severity: NOTICE, doNotNotify: true }) { id } }`);
  const dead = await eventually(async () => {
    const data = await server.gql(`{ jobs(state: DEAD) { id kind } }`);
    return data.jobs.find((job) => job.kind.startsWith("slack"));
  }, { timeout: 15_000 });
  slackWorks = true;
  await page.getByRole("link", { name: "Jobs" }).click();
  await heading(page, "Jobs");
  const row = page.locator(`tr[data-job='${dead.id}']`);
  await row.waitFor();
  assert.match(await row.textContent(), /bot token|invalid_auth/i);
  await shot(page, "jobs");
  await row.getByRole("button", { name: `Retry job ${dead.id}` }).click();
  await page.getByText(`Job ${dead.id}`).waitFor();
  await eventually(async () => {
    const data = await server.gql(`{ jobs(state: DEAD) { id } }`);
    return !data.jobs.some((job) => job.id === dead.id);
  });
  await done(page);
});

test("users: create, deactivate (login refused), reset password", async () => {
  const page = await adminAt("/admin/users");
  await heading(page, "Users");
  await page.getByLabel("Username").fill("carol");
  await page.getByLabel("Password").fill("short");
  await page.getByText("Use at least 10 characters.").waitFor();
  await page.getByLabel("Password").fill("carol-password-01");
  await page.getByRole("button", { name: "Create user" }).click();
  const row = page.locator("tr[data-user=carol]");
  await row.waitFor();
  await row.getByRole("button", { name: "Deactivate" }).click();
  await row.getByText("deactivated").waitFor();
  await assert.rejects(
    server.gql(`mutation { login(username: "carol", password: "carol-password-01") { accessToken } }`, {}, { auth: false }),
  );
  await row.getByRole("button", { name: "Reactivate" }).click();
  await row.getByText("active").waitFor();
  await row.getByRole("button", { name: "Reset password" }).click();
  await page.getByRole("textbox", { name: "New password" }).fill("carol-password-02");
  await page.getByRole("button", { name: "Set password", exact: true }).click();
  await page.getByText(/New password set for carol/).waitFor();
  const ok = await server.gql(`mutation { login(username: "carol", password: "carol-password-02") { accessToken } }`, {}, { auth: false });
  assert.ok(ok.login.accessToken);
  await done(page);
});

test("a change that needs the password again asks for it in a dialog, then goes through", async () => {
  const page = await adminAt("/admin/users");
  await heading(page, "Users");
  // As far as the server knows, the password was given twenty minutes ago.
  execFileSync("python3", [
    "-c",
    `import sqlite3, sys
from datetime import datetime, timedelta
db = sqlite3.connect(sys.argv[1])
for rowid, at in db.execute("SELECT id, authenticated_at FROM refresh_token").fetchall():
    old = datetime.fromisoformat(at) - timedelta(minutes=20)
    db.execute("UPDATE refresh_token SET authenticated_at = ? WHERE id = ?", (old.isoformat(), rowid))
db.commit()`,
    join(server.dataDir, "monostat.sqlite3"),
  ]);
  await page.reload();
  await heading(page, "Users");
  await page.getByLabel("Username").fill("dave");
  await page.getByLabel("Password", { exact: true }).fill("dave-password-01");
  await page.getByRole("button", { name: "Create user" }).click();
  const dialog = page.getByRole("dialog", { name: "Confirm it is you" });
  await dialog.waitFor();
  await dialog.getByLabel("Password").fill("not the password");
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await dialog.getByRole("alert").waitFor();
  await assertAccessible(page, "step-up dialog");
  await shot(page, "step-up");
  await dialog.getByLabel("Password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await page.locator("tr[data-user=dave]").waitFor();
  assert.equal(await dialog.isVisible(), false);
  await done(page);
});

async function userPage(username, password) {
  await server.gql(`mutation($u: String!, $p: String!) { createUser(username: $u, password: $p) { id } }`, { u: username, p: password });
  const page = await newPage();
  await login(page, username, password);
  await heading(page, "Incidents");
  await page.getByRole("link", { name: "My account" }).click();
  await heading(page, "My account");
  return page;
}

test("enrolling an authenticator app, then logging in with a code", async () => {
  const page = await userPage("totp-user", "totp-password-01");
  await page.getByRole("button", { name: "Start" }).click();
  const secret = (await page.textContent("#totp-secret")).trim();
  assert.match(await page.textContent("#totp-uri"), /^otpauth:\/\/totp\//);
  await shot(page, "totp-enrol");
  await page.getByLabel("Code the app shows now").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm app" }).click();
  await page.getByText(/Authenticator app added/).waitFor();
  await page.locator("[data-factor=TOTP]").waitFor();
  await page.getByRole("button", { name: "Log out" }).click();
  await heading(page, "Log in");
  await page.getByLabel("Username").fill("totp-user");
  await page.getByLabel("Password").fill("totp-password-01");
  await page.getByRole("button", { name: "Log in" }).click();
  await heading(page, "Second step");
  await assertAccessible(page, "second step");
  await page.getByLabel("Code from your authenticator app").fill("000000");
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.locator(".status.error").filter({ hasText: /\S/ }).waitFor();
  // Each time step works once: the one used to enrol may not log in; wait for the next.
  const enrolStep = Math.floor(Date.now() / 30_000);
  await eventually(() => Math.floor(Date.now() / 30_000) > enrolStep, { timeout: 31_000, interval: 250 });
  await page.getByLabel("Code from your authenticator app").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await heading(page, "Incidents");
  assert.match(await page.textContent(".who"), /totp-user/);
  // A lost phone: another user resets the factors; the password alone works again.
  const admin = await adminAt("/admin/users");
  await admin.locator("tr[data-user=totp-user]").getByRole("button", { name: "Reset second factors" }).click();
  await admin.getByText("1 second factor(s) of totp-user removed.").waitFor();
  await done(admin);
  const again = await server.gql(`mutation { login(username: "totp-user", password: "totp-password-01") { accessToken secondFactor { pendingToken } } }`, {}, { auth: false });
  assert.ok(again.login.accessToken);
  await done(page);
});

test("registering a security key (Chromium's virtual authenticator), logging in with it, removing it", async () => {
  const page = await newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await server.gql(`mutation { createUser(username: "key-user", password: "key-password-001") { id } }`);
  await login(page, "key-user", "key-password-001");
  await heading(page, "Incidents");
  await page.getByRole("link", { name: "My account" }).click();
  await heading(page, "My account");
  await page.getByLabel("Key name (optional)").fill("Virtual key");
  await page.getByRole("button", { name: "Register security key" }).click();
  await page.getByText(/Security key added/).waitFor();
  await page.locator("[data-factor=WEBAUTHN]").waitFor();
  await page.getByRole("button", { name: "Log out" }).click();
  await heading(page, "Log in");
  await page.getByLabel("Username").fill("key-user");
  await page.getByLabel("Password").fill("key-password-001");
  await page.getByRole("button", { name: "Log in" }).click();
  await heading(page, "Second step");
  await page.getByRole("button", { name: "Use security key" }).click();
  await heading(page, "Incidents");
  assert.match(await page.textContent(".who"), /key-user/);
  await page.getByRole("link", { name: "My account" }).click();
  await page.getByRole("button", { name: "Remove Virtual key" }).click();
  await page.getByText("Virtual key removed.").waitFor();
  await done(page);
});

test("the incident list filters by text, severity, status and dates, and pages", async () => {
  for (let n = 1; n <= 21; n++) {
    await server.gql(`mutation($t: String!) { createIncident(input: { title: $t, status: CONFIRMED, severity: NOTICE, doNotNotify: true }) { id } }`, {
      t: `Paging notice ${n}`,
    });
  }
  const page = await adminAt("/admin/");
  await page.getByLabel("Text").fill("Paging notice");
  await page.getByText(/^21 incidents, showing 1–20/).waitFor();
  await page.getByRole("button", { name: "Older" }).click();
  await page.getByText(/showing 21–21/).waitFor();
  assert.equal(await page.locator("tbody tr").count(), 1);
  await page.getByLabel("Text").fill("Paging notice 7");
  await page.getByText(/^1 incident$/).waitFor();
  await page.getByLabel("Severity").selectOption("OUTAGE");
  await page.getByText("No incidents match.").waitFor();
  await page.getByLabel("Severity").selectOption("NOTICE");
  await page.getByText(/^1 incident$/).waitFor();
  await page.getByLabel("Resolved").check();
  await page.getByText("No incidents match.").waitFor();
  await page.getByLabel("Confirmed").check();
  await page.getByText(/^1 incident$/).waitFor();
  await page.getByLabel("To").fill("2000-01-01");
  await page.getByText("No incidents match.").waitFor();
  await done(page);
});

test("planned maintenance with automatic start, started by hand from the console", async () => {
  const page = await adminAt("/admin/incidents/new");
  await heading(page, "New incident");
  await page.getByLabel("Planned maintenance").check();
  await page.getByLabel("Title").fill("Database upgrade");
  await page.getByRole("button", { name: "Plan maintenance" }).click();
  await page.getByText("Planned maintenance needs a start time.").first().waitFor();
  await page.getByLabel("Start", { exact: true }).fill("2099-01-01T10:00");
  assert.ok(await page.getByLabel("Start automatically at its start time").isChecked());
  await page.getByRole("button", { name: "Plan maintenance" }).click();
  await heading(page, "Database upgrade");
  await page.locator("[data-status=PLANNED]").waitFor();
  await page.getByRole("button", { name: "Start maintenance now" }).click();
  await page.locator("[data-status=CONFIRMED], [data-status=WATCHING]").first().waitFor();
  const id = Number(new URL(page.url()).pathname.split("/").pop());
  await page.getByRole("button", { name: "Delete incident" }).click();
  await heading(page, "Incidents");
  const data = await server.gql(`query($id: Int!) { consoleIncident(id: $id) { id } }`, { id });
  assert.equal(data.consoleIncident, null);
  await done(page);
});
