// Fails the build when the status page grows past its budget: 30 KB of gzipped
// JavaScript, 60 KB gzipped for everything the first load fetches (HTML, JS, CSS),
// not counting the logo. Reads what dist/index.html actually references.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const DIST = new URL("../dist/", import.meta.url).pathname;
// Overridable only so a test can prove that the check fails.
const JS_BUDGET = Number(process.env.BUDGET_JS_KB ?? 30) * 1024;
const TOTAL_BUDGET = Number(process.env.BUDGET_TOTAL_KB ?? 60) * 1024;

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const html = readFileSync(join(DIST, "index.html"));
const refs = [...html.toString().matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
let js = 0;
let total = gz(html);
const rows = [["index.html", total]];
for (const ref of new Set(refs)) {
  const size = gz(readFileSync(join(DIST, ref)));
  rows.push([ref, size]);
  total += size;
  if (ref.endsWith(".js")) js += size;
}
for (const [name, size] of rows) console.log(`${(size / 1024).toFixed(1).padStart(6)} KB gz  ${name}`);
console.log(`JavaScript ${(js / 1024).toFixed(1)} KB gz of ${JS_BUDGET / 1024}; first load ${(total / 1024).toFixed(1)} KB gz of ${TOTAL_BUDGET / 1024}`);
if (js > JS_BUDGET || total > TOTAL_BUDGET) {
  console.error("over budget: the status page must stay small (SPEC §3, issue 8)");
  process.exit(1);
}
if (!refs.some((ref) => ref.endsWith(".js"))) {
  console.error("dist/index.html references no script; the budget check cannot be trusted");
  process.exit(1);
}

// The console is opened by a few operators on a desk, not by everyone during an
// outage: a looser budget, still checked so it cannot grow without anyone noticing.
const CONSOLE_BUDGET = Number(process.env.BUDGET_CONSOLE_KB ?? 100) * 1024;
const consoleHtml = readFileSync(join(DIST, "admin", "index.html"));
const consoleRefs = [...consoleHtml.toString().matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
let consoleTotal = gz(consoleHtml);
for (const ref of new Set(consoleRefs)) consoleTotal += gz(readFileSync(join(DIST, ref)));
console.log(`console first load ${(consoleTotal / 1024).toFixed(1)} KB gz of ${CONSOLE_BUDGET / 1024}`);
if (consoleTotal > CONSOLE_BUDGET) {
  console.error("over budget: the admin console grew past its budget");
  process.exit(1);
}

// GraphiQL (/graphql in a browser) is a developer's tool with React and CodeMirror
// inside: far larger than the other pages, which share none of it, but still held to
// a number. Counted: all JavaScript and CSS the page can load, the lazily imported
// editor chunks included, found by following the references between the files. Not
// counted: GraphiQL's fonts, split by unicode-range (the browser fetches only those
// the text needs) and compressed already; they are listed.
const GRAPHIQL_BUDGET = Number(process.env.BUDGET_GRAPHIQL_KB ?? 600) * 1024;
const graphiqlHtml = readFileSync(join(DIST, "graphiql", "index.html")).toString();
const pending = [...graphiqlHtml.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
const graphiqlFiles = new Set();
let graphiqlTotal = gz(graphiqlHtml);
let graphiqlFonts = 0;
while (pending.length > 0) {
  const ref = pending.pop();
  if (graphiqlFiles.has(ref)) continue;
  graphiqlFiles.add(ref);
  const body = readFileSync(join(DIST, ref));
  if (/\.(woff2?|ttf|otf)$/.test(ref)) {
    graphiqlFonts += body.length;
    continue;
  }
  graphiqlTotal += gz(body);
  // Chunks import siblings as "./name-hash.js"; the CSS names fonts as /assets/….
  for (const m of body.toString().matchAll(/(?:\.\/|\/assets\/)([\w.-]+\.(?:js|css|woff2?|ttf|otf))\b/g)) {
    pending.push(`/assets/${m[1]}`);
  }
}
console.log(
  `GraphiQL ${(graphiqlTotal / 1024).toFixed(1)} KB gz of ${GRAPHIQL_BUDGET / 1024} ` +
    `(${graphiqlFiles.size} files; fonts ${(graphiqlFonts / 1024).toFixed(1)} KB, on demand)`,
);
if (graphiqlTotal > GRAPHIQL_BUDGET) {
  console.error("over budget: GraphiQL grew past its budget");
  process.exit(1);
}
if (![...graphiqlFiles].some((ref) => ref.endsWith(".js"))) {
  console.error("dist/graphiql/index.html references no script; the budget check cannot be trusted");
  process.exit(1);
}
