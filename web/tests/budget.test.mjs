// The size budget must fail the build when exceeded: run the check on the current
// build with budgets it cannot meet.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

const SCRIPT = new URL("../scripts/budget.mjs", import.meta.url).pathname;

function check(env) {
  return spawnSync(process.execPath, [SCRIPT], { env: { ...process.env, ...env }, encoding: "utf8" });
}

test("the current build is within its budget", () => {
  const run = check({});
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /JavaScript [\d.]+ KB gz of 30; first load [\d.]+ KB gz of 60/);
});

test("too much JavaScript fails the check", () => {
  const run = check({ BUDGET_JS_KB: "1" });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /over budget/);
});

test("too large a first load fails the check", () => {
  const run = check({ BUDGET_TOTAL_KB: "2" });
  assert.equal(run.status, 1);
});

test("the console has its own budget, checked too", () => {
  assert.match(check({}).stdout, /console first load [\d.]+ KB gz of 100/);
  const run = check({ BUDGET_CONSOLE_KB: "1" });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /admin console grew past its budget/);
});

test("GraphiQL has its own budget, checked too", () => {
  assert.match(check({}).stdout, /GraphiQL [\d.]+ KB gz of 600/);
  const run = check({ BUDGET_GRAPHIQL_KB: "1" });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /GraphiQL grew past its budget/);
});
