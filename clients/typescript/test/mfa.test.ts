// The second factor through AuthdClient against a live authd: enrolment,
// step-up, and the login's MFA step. Codes are computed here (RFC 6238) from
// the enrolment's secret; a code is accepted once, so each use takes the code
// of a later 30-second step than the one before (authd accepts one step of
// skew each way), and no test waits for the clock.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AuthdClient, ProblemError, StepUpRequiredError } from "../src/index.js";
import { countingFetch, startAuthd, totpCode, totpStep, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd();
});
after(async () => {
  await authd?.stop();
});

/** The claims of an access token (not verified: authd signed it, the test only reads it). */
function claims(accessToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
}

test("the TOTP helper matches RFC 6238's SHA-1 test vector", () => {
  // Secret "12345678901234567890" at T = 59 s: 94287082, of which 6 digits.
  assert.equal(totpCode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", totpStep(59_000)), "287082");
});

test("enrol TOTP, step up for a sensitive change, log in through the MFA step", async () => {
  const counter = countingFetch();
  const owner = new AuthdClient({ baseUrl: authd.url, fetch: counter.fetch });
  const email = uniqueEmail();
  await owner.register(email, PASSWORD);
  const first = await owner.login(email, PASSWORD);
  assert.equal(first.mfaRequired, false);
  assert.deepEqual(claims(owner.tokens!.accessToken).amr, ["pwd"]);

  // Enrolment: start (a fresh login is recent enough; the password again), then the first code.
  const enrolment = await owner.startTotpEnrollment(PASSWORD, "Phone");
  assert.match(enrolment.otpauth_uri, /^otpauth:\/\/totp\//);
  assert.match(enrolment.qr_code, /^data:image\/png;base64,/);
  const step = totpStep();
  const activated = await owner.verifyFactor(enrolment.factor.id, totpCode(enrolment.secret, step));
  assert.equal(activated.factor.status, "active");
  const firstCodes = activated.recovery_codes!;
  assert.equal(firstCodes.length, 10);

  // This session logged in with the password only; the account now has a
  // factor, so a sensitive operation wants a step-up, and the client must not
  // try a refresh for it (a refresh keeps the level).
  const held = owner.tokens;
  await assert.rejects(owner.regenerateRecoveryCodes(PASSWORD), (err: unknown) => {
    assert.ok(err instanceof StepUpRequiredError, String(err));
    assert.ok(err instanceof ProblemError);
    assert.equal(err.status, 401);
    assert.match(err.problem.type, /\/step-up-required$/);
    assert.equal(err.needsSecondFactor, true);
    assert.equal(err.maxAge, 600);
    return true;
  });
  assert.equal(counter.count("/auth/refresh-token"), 0, "no refresh for step-up-required");
  assert.deepEqual(owner.tokens, held);

  // Step up with a recovery code: a new pair at aal 2, and the operation passes.
  await owner.stepUp({ recoveryCode: firstCodes[0]! });
  assert.notEqual(owner.tokens!.refreshToken, held!.refreshToken);
  const raised = claims(owner.tokens!.accessToken);
  assert.equal(raised.aal, 2);
  assert.equal(raised.acr, "aal2");
  const newCodes = await owner.regenerateRecoveryCodes(PASSWORD);
  assert.equal(newCodes.length, 10);
  const factors = await owner.listFactors();
  assert.equal(factors.recovery_codes_remaining, 10);
  assert.deepEqual(
    factors.factors.map((f) => [f.id, f.status]),
    [[enrolment.factor.id, "active"]],
  );

  // A new login stops at the challenge and stores nothing until the code.
  const device = new AuthdClient({ baseUrl: authd.url });
  const login = await device.login(email, PASSWORD);
  assert.ok(login.mfaRequired);
  assert.equal(login.challenge.enrollmentRequired, false);
  assert.ok(login.challenge.methods.includes("totp"));
  assert.ok(login.challenge.expiresIn > 0);
  assert.equal(device.tokens, null);
  // The enrolment spent the code of `step`; the next step's code is new.
  const code = totpCode(enrolment.secret, step + 1);
  const pair = await device.verifyMfa(login.challenge.mfaToken, { code });
  assert.equal(device.tokens!.accessToken, pair.access_token);
  const c = claims(pair.access_token);
  assert.deepEqual(c.amr, ["pwd", "otp"]);
  assert.equal(c.aal, 2);
  assert.equal(typeof c.auth_time, "number");
  assert.equal((await device.me()).email, email);

  // Another login: that code again is a replay, and a code of the voided set
  // is refused; an unused code of the new set completes the login.
  const again = new AuthdClient({ baseUrl: authd.url });
  const second = await again.login(email, PASSWORD);
  assert.ok(second.mfaRequired);
  const refused = (err: unknown) => err instanceof ProblemError && err.status === 403 && /\/invalid-mfa-code$/.test(err.problem.type);
  await assert.rejects(again.verifyMfa(second.challenge.mfaToken, { code }), refused);
  await assert.rejects(again.verifyMfa(second.challenge.mfaToken, { recoveryCode: firstCodes[1]! }), refused);
  assert.equal(again.tokens, null);
  await again.verifyMfa(second.challenge.mfaToken, { recoveryCode: newCodes[0]! });
  assert.equal((await again.me()).email, email);
  assert.equal((await again.listFactors()).recovery_codes_remaining, 9);
});

test("a wrong or unknown MFA token is a typed problem", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  await assert.rejects(
    client.verifyMfa("not-a-challenge", { code: "123456" }),
    (err: unknown) => err instanceof ProblemError && err.status === 401 && /\/invalid-mfa-token$/.test(err.problem.type),
  );
  assert.equal(client.tokens, null);
});
