// The federated-login calls against a real authd (no provider configured):
// what the client sends passes authd's request validation, and authd's
// answers map to the typed errors.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AuthdClient, InvalidOidcCodeError, ProblemError, createPkcePair } from "../src/index.js";
import { startAuthd, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd();
});
after(async () => {
  await authd?.stop();
});

test("without providers: an empty list, and a made-up code is an InvalidOidcCodeError", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  assert.deepEqual(await client.providers(), []);
  const { verifier } = await createPkcePair();
  await assert.rejects(client.finishOidcLogin("no-such-code", verifier), InvalidOidcCodeError);
  assert.equal(client.tokens, null);
});

test("identity calls reach authd well formed: the list, an unknown provider, a missing password", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  const email = uniqueEmail();
  await client.register(email, PASSWORD);
  await client.login(email, PASSWORD);
  assert.deepEqual(await client.identities(), []);
  // The body passes validation; the provider is what authd refuses.
  await assert.rejects(
    client.startIdentityLink("nope", { redirectTo: "https://app.example.com/linked", currentPassword: PASSWORD }),
    (err: unknown) => err instanceof ProblemError && err.status === 404,
  );
  // An account with a password must send it: 422 naming the field.
  await assert.rejects(client.deleteIdentity("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b"), (err: unknown) => {
    assert.ok(err instanceof ProblemError);
    assert.equal(err.status, 422);
    assert.deepEqual((err.problem.errors ?? []).map((e) => e.field), ["current_password"]);
    return true;
  });
  await assert.rejects(
    client.deleteIdentity("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b", PASSWORD),
    (err: unknown) => err instanceof ProblemError && err.status === 404,
  );
  // A link code from nowhere, from a logged-in session: refused, and the session lives on.
  const { verifier } = await createPkcePair();
  await assert.rejects(client.completeIdentityLink("no-such-code", verifier), InvalidOidcCodeError);
  assert.equal((await client.me()).email, email);
});
