// The generated GraphQL types and documents (src/graphql/generated.ts for the page,
// src/admin/graphql/generated.ts for the console) are what scripts/codegen.mjs makes
// from ../schema.graphql and the .graphql files beside them today.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generate } from "../scripts/codegen.mjs";

test("src/graphql/generated.ts is current (else: npm run codegen)", async () => {
  const committed = readFileSync(new URL("../src/graphql/generated.ts", import.meta.url), "utf8");
  assert.equal(committed, await generate());
});

test("src/admin/graphql/generated.ts is current (else: npm run codegen)", async () => {
  const committed = readFileSync(new URL("../src/admin/graphql/generated.ts", import.meta.url), "utf8");
  assert.equal(committed, await generate("src/admin/graphql/"));
});

test("the status query is the anonymous one the server recognises", async () => {
  const generated = await generate();
  assert.match(generated, /export const StatusQueryDocument = "\{ status \{ headline generatedAt stale site \{/);
});
