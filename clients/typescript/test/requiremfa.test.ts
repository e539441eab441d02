// AUTHD_REQUIRE_MFA=true: a login to an account without a factor answers
// with an enrolment requirement, and the client enrols and completes it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AuthdClient } from "../src/index.js";
import { startAuthd, totpCode, totpStep, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd({ AUTHD_REQUIRE_MFA: "true" });
});
after(async () => {
  await authd?.stop();
});

test("a login that requires enrolment enrols an authenticator and completes with its first code", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  const email = uniqueEmail();
  await client.register(email, PASSWORD);
  const login = await client.login(email, PASSWORD);
  assert.ok(login.mfaRequired);
  assert.equal(login.challenge.enrollmentRequired, true);
  assert.equal(client.tokens, null);
  const enrolment = await client.enrollMfa(login.challenge.mfaToken, "Phone");
  const pair = await client.verifyMfa(login.challenge.mfaToken, { code: totpCode(enrolment.secret, totpStep()) });
  assert.equal(pair.recovery_codes?.length, 10, "the new recovery codes, shown this once");
  assert.equal((await client.me()).email, email);
  const factors = await client.listFactors();
  assert.deepEqual(
    factors.factors.map((f) => f.status),
    ["active"],
  );
});
