import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AuthdClient, ProblemError } from "../src/index.js";
import { countingFetch, startAuthd, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd();
});
after(async () => {
  await authd?.stop();
});

async function loggedIn(opts: { refreshSkewSeconds?: number } = {}) {
  const counter = countingFetch();
  const client = new AuthdClient({ baseUrl: authd.url, fetch: counter.fetch, ...opts });
  const email = uniqueEmail();
  await client.register(email, PASSWORD);
  await client.login(email, PASSWORD);
  return { client, counter, email };
}

test("register, login and me return the typed user", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  const email = uniqueEmail();
  const user = await client.register(email, PASSWORD);
  assert.equal(user.email, email);
  assert.equal(user.is_active, true);
  const pair = await client.login(email, PASSWORD);
  assert.equal(pair.token_type, "Bearer");
  assert.equal(pair.expires_in, 60);
  const me = await client.me();
  assert.equal(me.id, user.id);
});

test("refreshes before the access token expires", async () => {
  // A skew longer than the 60 s lifetime: every call finds the token about to expire.
  const { client, counter } = await loggedIn({ refreshSkewSeconds: 61 });
  const before = client.tokens!.refreshToken;
  await client.me();
  assert.equal(counter.count("/auth/refresh-token"), 1);
  assert.notEqual(client.tokens!.refreshToken, before);
  await client.me();
  assert.equal(counter.count("/auth/refresh-token"), 2);
});

test("a 401 refreshes once and retries", async () => {
  const { client, counter, email } = await loggedIn();
  const held = client.tokens!;
  // The access token is rejected (as after a key rotation); the refresh token is fine.
  (client as unknown as { store: { set(t: unknown): void } }).store.set({ ...held, accessToken: "not-a-valid-token" });
  const me = await client.me();
  assert.equal(me.email, email);
  assert.equal(counter.count("/auth/refresh-token"), 1);
});

test("concurrent calls share one refresh", async () => {
  const { client, counter, email } = await loggedIn();
  const held = client.tokens!;
  (client as unknown as { store: { set(t: unknown): void } }).store.set({ ...held, accessToken: "stale" });
  const results = await Promise.all(Array.from({ length: 10 }, () => client.me()));
  assert.ok(results.every((u) => u.email === email));
  assert.equal(counter.count("/auth/refresh-token"), 1, "one refresh for ten waiting calls");
  // The chain is intact: the session still refreshes.
  await client.refresh();
  assert.equal(counter.count("/auth/refresh-token"), 2);
});

test("logout ends the session and forgets the tokens", async () => {
  const { client } = await loggedIn();
  await client.logout();
  assert.equal(client.tokens, null);
  await assert.rejects(client.me(), (err: unknown) => err instanceof ProblemError && err.status === 401);
});

test("errors are typed problems", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  await assert.rejects(client.register("not-an-email", "short"), (err: unknown) => {
    assert.ok(err instanceof ProblemError);
    assert.equal(err.status, 422);
    assert.match(err.problem.type, /\/validation$/);
    const fields = (err.problem.errors ?? []).map((e) => e.field).sort();
    assert.deepEqual(fields, ["email", "password", "password"]);
    assert.ok(err.problem.request_id.length > 0);
    return true;
  });
  await assert.rejects(client.login(uniqueEmail(), PASSWORD), (err: unknown) => {
    assert.ok(err instanceof ProblemError);
    assert.equal(err.status, 401);
    assert.match(err.problem.type, /\/invalid-credentials$/);
    return true;
  });
});
