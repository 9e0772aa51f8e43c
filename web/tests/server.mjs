// Starts the real monostat binary on a fresh SQLite database for the browser tests,
// with a console user, an OpsGenie secret and no SMTP host (mails become .eml files in
// the data directory, which the tests read like an inbox).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(new URL("../..", import.meta.url).pathname);

function binary() {
  if (process.env.MONOSTAT_BIN) return process.env.MONOSTAT_BIN;
  // The newer of the two builds, so an old release binary is not tested by mistake.
  const built = ["release", "debug"]
    .map((profile) => join(ROOT, "target", profile, "monostat"))
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (built.length) return built[0];
  throw new Error("no monostat binary: run `cargo build -p monostat` first (or set MONOSTAT_BIN)");
}

async function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

export const OPSGENIE_SECRET = "browser-test-opsgenie-secret-0123456789abcdef0123456789abcdef";
export const PASSWORD = "correct horse battery staple";

/**
 * `host`: the name the browser uses; WebAuthn needs a host name (`localhost`), not an
 * IP. `opsgenieSecret: null` leaves the secret to the database, so the console can
 * rotate it. `env`: more variables for the server.
 */
export async function startServer({ host = "127.0.0.1", opsgenieSecret = OPSGENIE_SECRET, env: extraEnv = {} } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "monostat-browser-"));
  const port = await freePort();
  const base = `http://${host}:${port}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? dataDir,
    MONOSTAT_DATA_DIR: dataDir,
    MONOSTAT_LISTEN: `127.0.0.1:${port}`,
    MONOSTAT_SITE_URL: base,
    MONOSTAT_WEB_DIR: join(ROOT, "web", "dist"),
    ...(opsgenieSecret ? { MONOSTAT_OPSGENIE_SECRET: opsgenieSecret } : {}),
    NUM_WORKERS: "2",
    RUST_LOG: "warn",
    ...extraEnv,
  };
  const bin = binary();
  const createSuperuser = (username, password) =>
    execFileSync(bin, ["createsuperuser", "--username", username, "--password-stdin"], {
      env,
      input: `${password}\n`,
      stdio: ["pipe", "ignore", "inherit"],
    });
  createSuperuser("admin", PASSWORD);
  const child = spawn(bin, ["serve"], { env, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error("monostat did not start within 30 s")), 30_000);
    child.once("exit", (code) => fail(new Error(`monostat exited with ${code}`)));
    child.stdout.on("data", (chunk) => {
      if (String(chunk).includes("monostat is running")) {
        clearTimeout(timer);
        done();
      }
    });
  });

  const server = {
    base,
    dataDir,
    token: null,
    createSuperuser,
    /** The OpsGenie webhook URL in use; the console test replaces it after rotating. */
    opsgenieUrl: `${base}/integrations/opsgenie/hook/${opsgenieSecret}`,
    async gql(query, variables = {}, { auth = true } = {}) {
      const response = await fetch(`${base}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(auth && server.token ? { authorization: `Bearer ${server.token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      // Step-up changes need the password given in the last five minutes; a long run
      // outlives the login above, so give it again as the console would.
      if (auth && body.errors?.[0]?.extensions?.code === "REAUTHENTICATION_REQUIRED") {
        const again = await server.gql(`mutation($p: String) { reauthenticate(password: $p) { accessToken } }`, { p: PASSWORD });
        server.token = again.reauthenticate.accessToken;
        return server.gql(query, variables);
      }
      if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
      return body.data;
    },
    async opsgenie(fixture, alertId) {
      const payload = JSON.parse(readFileSync(join(ROOT, "api/tests/fixtures/opsgenie", fixture), "utf8"));
      if (alertId) payload.alert.alertId = alertId;
      const response = await fetch(server.opsgenieUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(payload),
      });
      if (!response.ok) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
    },
    /** The .eml files written so far, oldest first, as text. */
    mails() {
      const dir = join(dataDir, "mail");
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((name) => name.endsWith(".eml"))
        .sort()
        .map((name) => decodeQuotedPrintable(readFileSync(join(dir, name), "utf8")));
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((done) => (child.exitCode !== null ? done() : child.once("exit", done)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const login = await server.gql(
    `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }`,
    { u: "admin", p: PASSWORD },
  );
  server.token = login.login.accessToken;
  return server;
}

/** Polls `check` until it returns something truthy. */
export async function eventually(check, { timeout = 10_000, interval = 100 } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`gave up waiting after ${timeout} ms`);
    await new Promise((done) => setTimeout(done, interval));
  }
}

/** Good enough for finding links in a mail: undoes soft line breaks and =XX escapes. */
function decodeQuotedPrintable(text) {
  return text
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}
