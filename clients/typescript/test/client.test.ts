import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AuthdClient, ProblemError, memoryStore, type TokenStore } from "../src/index.js";
import { countingFetch, deferred, startAuthd, unavailable, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd();
});
after(async () => {
  await authd?.stop();
});

async function loggedIn(opts: { refreshSkewSeconds?: number; intercept?: Parameters<typeof countingFetch>[0] } = {}) {
  const counter = countingFetch(opts.intercept);
  const client = new AuthdClient({ baseUrl: authd.url, fetch: counter.fetch, refreshSkewSeconds: opts.refreshSkewSeconds });
  const email = uniqueEmail();
  await client.register(email, PASSWORD);
  await client.login(email, PASSWORD);
  return { client, counter, email };
}

test("register, login and me return the typed user", async () => {
  const client = new AuthdClient({ baseUrl: authd.url });
  const email = uniqueEmail();
  const registered = await client.register(email, PASSWORD);
  assert.equal(registered.status, 201);
  const user = registered.user;
  assert.equal(user.email, email);
  assert.equal(user.is_active, true);
  const res = await client.login(email, PASSWORD);
  assert.ok(!res.mfaRequired, "no second factor: the session starts");
  const pair = res.tokens;
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

// A logout the server never confirmed must still log out this device: the
// tokens are gone from the store, and the caller still learns of the failure.
for (const [why, failure] of [
  ["cannot be reached", () => Promise.reject(new TypeError("fetch failed"))],
  ["answers 503", () => Promise.resolve(unavailable())],
] as const) {
  test(`logout forgets the tokens when authd ${why}`, async () => {
    const { client } = await loggedIn({ intercept: (req) => (new URL(req.url).pathname === "/auth/logout" ? failure() : undefined) });
    await assert.rejects(client.logout());
    assert.equal(client.tokens, null);
  });
}

test("a failed logout of the other sessions keeps this session's tokens", async () => {
  const { client } = await loggedIn({ intercept: (req) => (new URL(req.url).pathname === "/auth/logout" ? Promise.resolve(unavailable()) : undefined) });
  const held = client.tokens;
  await assert.rejects(client.logout("others"), (err: unknown) => err instanceof ProblemError && err.status === 503);
  assert.deepEqual(client.tokens, held);
});

type Operation = { security?: unknown[] };
type Spec = { security?: unknown[]; paths: Record<string, Record<string, Operation>> };
const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);

test("the access token goes only to the operations the contract secures", async () => {
  const spec = (await (await fetch(authd.url + "/openapi.json")).json()) as Spec;
  const sent: Request[] = [];
  const store = memoryStore();
  // Requests are answered here: only what the client sends matters.
  const client = new AuthdClient({
    baseUrl: authd.url,
    store,
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      sent.push(input instanceof Request ? input : new Request(input, init));
      return new Response(null, { status: 204 });
    },
  });
  const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.has(method))
      .map(([method, op]) => ({ method, path, secured: (op.security ?? spec.security ?? []).length > 0 })),
  );
  assert.ok(operations.some((o) => o.secured) && operations.some((o) => !o.secured));
  const call = (o: (typeof operations)[number]) =>
    (client.api.request as (m: string, p: string, init: unknown) => Promise<unknown>)(o.method, o.path, { params: { path: { id: "x", provider: "x", ref: "x" } } });
  // The path as sent, every template parameter filled with "x".
  const sentPath = (o: (typeof operations)[number]) => o.path.replace(/\{[^}]+\}/g, "x");

  store.set({ accessToken: "access", refreshToken: "refresh", accessExpiresAt: Date.now() + 3_600_000 });
  for (const o of operations) {
    sent.length = 0;
    await call(o);
    assert.equal(sent.length, 1);
    const auth = sent[0]!.headers.get("Authorization");
    assert.equal(auth, o.secured ? "Bearer access" : null, `${o.method.toUpperCase()} ${o.path}`);
  }

  // An access token about to expire is refreshed only for a call that sends it.
  for (const o of operations.filter((o) => !o.secured)) {
    store.set({ accessToken: "access", refreshToken: "refresh", accessExpiresAt: 0 });
    sent.length = 0;
    await call(o);
    assert.deepEqual(
      sent.map((r) => `${r.method} ${new URL(r.url).pathname} ${r.headers.get("Authorization")}`),
      [`${o.method.toUpperCase()} ${sentPath(o)} null`],
      "a public call sends only itself, without refreshing first",
    );
  }
});

// Several tabs that share one store (localStorage, say) each have their own
// client, so each has its own single flight. These tests play two tabs.
function twoTabs(intercept?: Parameters<typeof countingFetch>[0]) {
  const store: TokenStore = memoryStore();
  const counter = countingFetch(intercept);
  const tab = () => new AuthdClient({ baseUrl: authd.url, fetch: counter.fetch, store });
  return { a: tab(), b: tab(), counter, store };
}

test("two clients sharing a store refresh one token at once and stay logged in", async () => {
  const { a, b, counter } = twoTabs();
  const email = uniqueEmail();
  await a.register(email, PASSWORD);
  await a.login(email, PASSWORD);
  // Both present the same refresh token: the second is a retry within the grace window.
  await Promise.all([a.refresh(), b.refresh()]);
  assert.equal(counter.count("/auth/refresh-token"), 2);
  assert.equal((await b.me()).email, email);
  await a.refresh();
  assert.equal((await a.me()).email, email);
});

test("a late refresh answer does not overwrite a newer pair another client stored", async () => {
  const bAnswered = deferred();
  const release = deferred();
  let holdNext = false;
  const { a, b, store } = twoTabs((req, forward) => {
    if (!holdNext || new URL(req.url).pathname !== "/auth/refresh-token") return undefined;
    holdNext = false;
    return forward().then(async (res) => {
      bAnswered.resolve();
      await release.promise;
      return res;
    });
  });
  const email = uniqueEmail();
  await a.register(email, PASSWORD);
  await a.login(email, PASSWORD);
  holdNext = true;
  const late = b.refresh(); // authd rotates; the answer is held on its way back
  await bAnswered.promise;
  await a.refresh(); // the same token again: the grace retry
  await a.refresh(); // and once more: the store now holds the newest pair
  const newest = store.get();
  release.resolve();
  await late;
  assert.deepEqual(store.get(), newest);
  assert.equal((await b.me()).email, email);
});

test("a refresh answered after logout does not bring the tokens back", async () => {
  const answered = deferred();
  const release = deferred();
  const { client } = await loggedIn({
    intercept: (req, forward) => {
      const path = new URL(req.url).pathname;
      if (path === "/auth/logout") return Promise.reject(new TypeError("fetch failed"));
      if (path !== "/auth/refresh-token") return undefined;
      return forward().then(async (res) => {
        answered.resolve();
        await release.promise;
        return res;
      });
    },
  });
  const refreshing = client.refresh();
  await answered.promise;
  await assert.rejects(client.logout());
  release.resolve();
  await assert.rejects(refreshing, /not logged in/);
  assert.equal(client.tokens, null);
});
