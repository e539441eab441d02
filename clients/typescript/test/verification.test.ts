import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AuthdClient, ProblemError } from "../src/index.js";
import { startAuthd, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd({ AUTHD_REQUIRE_VERIFIED_EMAIL: "true" });
});
after(async () => {
  await authd?.stop();
});

test("register answers the 202 outcome when verification is required", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  const email = uniqueEmail();
  const registered = await client.register(email, PASSWORD);
  assert.equal(registered.status, 202);
  assert.equal(registered.accepted.status, "accepted");
  assert.ok(registered.accepted.detail.length > 0);
  // Until the mailed link is redeemed there is no account to log in to: a
  // login answers as for an unknown address.
  await assert.rejects(client.login(email, PASSWORD), (err: unknown) => err instanceof ProblemError && err.status === 401);
  assert.equal(client.tokens, null);
});
