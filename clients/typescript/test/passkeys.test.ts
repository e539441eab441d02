// Passkeys through AuthdClient against a live authd, as far as they go
// without an authenticator: the options of each ceremony, and that a forged
// or malformed credential is a typed problem that stores nothing. A real
// authenticator's ceremonies are covered by the browser test (a virtual
// authenticator in Chromium) and the server's end-to-end tests.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AuthdClient, ProblemError, StepUpRequiredError, type PasskeyCredentialJSON } from "../src/index.js";
import { countingFetch, startAuthd, totpCode, totpStep, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd(); // the default relying party: AUTHD_WEBAUTHN_RP_ID=localhost
});
after(async () => {
  await authd?.stop();
});

async function loggedIn(fetch?: typeof globalThis.fetch): Promise<{ client: AuthdClient; email: string }> {
  const client = new AuthdClient({ baseUrl: authd.url, fetch });
  const email = uniqueEmail();
  await client.register(email, PASSWORD);
  const res = await client.login(email, PASSWORD);
  assert.equal(res.mfaRequired, false);
  return { client, email };
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/**
 * An assertion shaped like a browser's (WebAuthn Level 3 JSON), for a
 * challenge, with an authenticator that does not exist: the client data is
 * well formed, the authenticator data and signature are not real.
 */
function forgedAssertion(challenge: string): PasskeyCredentialJSON {
  const id = b64url(Buffer.from("no-such-credential-0123456789"));
  return {
    id,
    rawId: id,
    type: "public-key",
    response: {
      clientDataJSON: b64url(JSON.stringify({ type: "webauthn.get", challenge, origin: "http://localhost:8080", crossOrigin: false })),
      authenticatorData: b64url(Buffer.alloc(37, 1)),
      signature: b64url(Buffer.alloc(70, 2)),
      userHandle: b64url(Buffer.from("someone")),
    },
    clientExtensionResults: {},
    authenticatorAttachment: "platform",
  };
}

/** Not a credential a browser would produce at all. */
const garbage: PasskeyCredentialJSON = { id: "x", rawId: "x", type: "public-key", response: { clientDataJSON: "!!not base64url!!" } };

const problemOf = (status: number | number[], type?: string) => (err: unknown) => {
  assert.ok(err instanceof ProblemError, String(err));
  assert.ok((Array.isArray(status) ? status : [status]).includes(err.status), `status ${err.status}: ${err.message}`);
  if (type) assert.match(err.problem.type, new RegExp(`/${type}$`));
  return true;
};

// The shapes @simplewebauthn/browser (and the DOM's toJSON()) return are
// interfaces, which TypeScript does not widen to index signatures: the
// credential parameters must accept them as they are. Checked at compile time.
interface AuthenticatorAssertionResponseJSON {
  clientDataJSON: string;
  authenticatorData: string;
  signature: string;
  userHandle?: string;
}
interface AuthenticationResponseJSON {
  id: string;
  rawId: string;
  response: AuthenticatorAssertionResponseJSON;
  authenticatorAttachment?: "platform" | "cross-platform";
  clientExtensionResults: Record<string, unknown>;
  type: "public-key";
}
export const fromBrowser = (c: AuthenticationResponseJSON): PasskeyCredentialJSON => c;

test("passwordless login options: a fresh challenge for the relying party localhost, no credentials listed", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  const a = await client.passkeyLoginOptions();
  const b = await client.passkeyLoginOptions();
  assert.equal(a.rpId, "localhost");
  assert.equal(a.userVerification, "required");
  assert.equal(typeof a.challenge, "string");
  assert.ok((a.challenge as string).length >= 22, "at least 16 random bytes");
  assert.notEqual(a.challenge, b.challenge);
  assert.ok(a.allowCredentials === undefined || (a.allowCredentials as unknown[]).length === 0, "discoverable: no allowCredentials");
  assert.equal(client.tokens, null);
});

test("a forged or malformed passkey login is a typed problem and stores nothing", async () => {
  const counter = countingFetch();
  const client = new AuthdClient({ baseUrl: authd.url, fetch: counter.fetch });
  // An unknown credential for a real challenge, and for a challenge authd never issued: the same 401.
  const options = await client.passkeyLoginOptions();
  await assert.rejects(client.loginWithPasskey(forgedAssertion(options.challenge as string)), problemOf(401, "invalid-credentials"));
  await assert.rejects(client.loginWithPasskey(forgedAssertion(b64url("never issued by authd"))), problemOf(401, "invalid-credentials"));
  // Not a credential at all: a validation problem naming the field, never a 500.
  await assert.rejects(client.loginWithPasskey(garbage), (err: unknown) => {
    problemOf(422)(err);
    assert.deepEqual((err as ProblemError).problem.errors?.map((e) => e.field), ["credential"]);
    return true;
  });
  assert.equal(client.tokens, null);
  assert.equal(counter.count("/auth/refresh-token"), 0);
});

test("the client passes the credential through as the browser gave it", async () => {
  const sent: unknown[] = [];
  const client = new AuthdClient({
    baseUrl: authd.url,
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = input instanceof Request ? input : new Request(input, init);
      sent.push(await req.clone().json());
      return fetch(req);
    },
  });
  const credential = { ...forgedAssertion(b64url("c")), clientExtensionResults: { credProps: { rk: true } } };
  await assert.rejects(client.loginWithPasskey(credential), ProblemError);
  assert.deepEqual(sent, [{ credential }]);
});

test("adding a passkey needs the current password; its options are for localhost and exclude nothing yet", async () => {
  const { client, email } = await loggedIn();
  const held = client.tokens;
  await assert.rejects(client.passkeyRegistrationOptions("Wrong-Horse-8"), problemOf(403, "wrong-password"));
  assert.deepEqual(client.tokens, held);

  const options = await client.passkeyRegistrationOptions(PASSWORD);
  assert.equal((options.rp as { id: string }).id, "localhost");
  assert.equal(typeof options.challenge, "string");
  const user = options.user as { id: string; name: string };
  assert.equal(user.name, email);
  assert.equal(typeof user.id, "string");
  const selection = options.authenticatorSelection as { residentKey?: string; userVerification?: string };
  assert.equal(selection.residentKey, "required");
  assert.equal(selection.userVerification, "required");
  assert.ok(options.excludeCredentials === undefined || (options.excludeCredentials as unknown[]).length === 0);

  // A forged attestation for that challenge adds nothing.
  const forged: PasskeyCredentialJSON = {
    id: b64url("new-credential"),
    rawId: b64url("new-credential"),
    type: "public-key",
    response: {
      clientDataJSON: b64url(JSON.stringify({ type: "webauthn.create", challenge: options.challenge, origin: "http://localhost:8080" })),
      attestationObject: b64url(Buffer.alloc(64, 3)),
    },
    clientExtensionResults: {},
  };
  await assert.rejects(client.registerPasskey(forged, "Laptop"), problemOf(400));
  await assert.rejects(client.registerPasskey(garbage), problemOf(400));
  assert.deepEqual((await client.listPasskeys()).passkeys, []);
  assert.deepEqual(client.tokens, held, "a refused registration keeps the session");
});

test("passkeys of no one: rename and removal answer 404; step-up with a passkey needs one", async () => {
  const { client } = await loggedIn();
  const unknown = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
  await assert.rejects(client.renamePasskey(unknown, "Phone"), problemOf(404, "not-found"));
  await assert.rejects(client.deletePasskey(unknown, PASSWORD), problemOf(404, "not-found"));
  await assert.rejects(client.stepUpPasskeyOptions(), problemOf(409, "factor-required"));
  const held = client.tokens;
  await assert.rejects(client.stepUp({ passkey: garbage }), problemOf(422));
  assert.deepEqual(client.tokens, held);
});

test("a login's second step: no passkey method without passkeys, and a forged passkey stores nothing", async () => {
  const { client: owner, email } = await loggedIn();
  const enrolment = await owner.startTotpEnrollment(PASSWORD);
  await owner.verifyFactor(enrolment.factor.id, totpCode(enrolment.secret, totpStep()));

  const device = new AuthdClient({ baseUrl: authd.url });
  const login = await device.login(email, PASSWORD);
  assert.ok(login.mfaRequired);
  assert.ok(!login.challenge.methods.includes("passkey"), `methods ${login.challenge.methods.join(",")}`);
  // A passkey refused as a second factor is a wrong code's 403 (and counts like one).
  await assert.rejects(device.verifyMfa(login.challenge.mfaToken, { passkey: forgedAssertion(b64url("c")) }), problemOf(403, "invalid-mfa-code"));
  await assert.rejects(device.mfaPasskeyOptions(login.challenge.mfaToken), problemOf(401, "invalid-mfa-token"), "no passkeys, no options");
  await assert.rejects(device.mfaPasskeyOptions("not-a-challenge"), problemOf(401, "invalid-mfa-token"));
  assert.equal(device.tokens, null);

  // The password-only session of the owner now needs a second factor to add a passkey.
  await assert.rejects(owner.passkeyRegistrationOptions(PASSWORD), (err: unknown) => err instanceof StepUpRequiredError && err.needsSecondFactor);
});
