// The admin API, export and erasure through the client, against a fake
// fetch: what each call sends (path, query, body, credentials) and how
// authd's answers come back (pages followed, problems typed). No authd runs
// here; admin-e2e.test.ts drives a live one.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthdClient,
  ForbiddenError,
  InsufficientScopeError,
  LastAdminError,
  MfaRequiredError,
  ProblemError,
  StepUpRequiredError,
  adminClient,
  memoryStore,
  type AdminUser,
  type AuthdAdminClient,
} from "../src/index.js";

const BASE = "http://authd.test";
const CREDENTIAL = "authd_sc_0123456789abcdef0123456789abcdef_" + "s".repeat(43);

interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  auth: string | null;
  body: unknown;
}

/** A fetch that records each request and answers it with `answer` (a 204 when that gives nothing). */
function fakeFetch(answer: (req: Sent) => Response | undefined = () => undefined) {
  const sent: Sent[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const url = new URL(req.url);
    const text = await req.text();
    const s: Sent = {
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      auth: req.headers.get("Authorization"),
      body: text === "" ? undefined : JSON.parse(text),
    };
    sent.push(s);
    return answer(s) ?? new Response(null, { status: 204 });
  };
  return { fetch, sent };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function problem(status: number, kind: string, headers: Record<string, string> = {}): Response {
  const body = { type: `https://authd.dev/problems/${kind}`, title: kind, status, detail: kind, request_id: "req" };
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/problem+json", ...headers } });
}

function user(n: number): AdminUser {
  return {
    id: `00000000-0000-4000-8000-00000000000${n}`,
    email: `u${n}@example.com`,
    is_active: true,
    email_verified_at: null,
    roles: [],
    has_password: true,
    created_at: "2026-11-28T10:00:00Z",
    updated_at: "2026-11-28T10:00:00Z",
  };
}

/** A user client holding an access token that is far from expiry. */
function loggedInClient(fetch: typeof globalThis.fetch) {
  const store = memoryStore();
  store.set({ accessToken: "access", refreshToken: "refresh", accessExpiresAt: Date.now() + 3_600_000 });
  return { client: new AuthdClient({ baseUrl: BASE, fetch, store }), store };
}

test("allUsers follows next_cursor page by page with the same filter, and stops at the page without one", async () => {
  const pages: Record<string, { users: AdminUser[]; next_cursor?: string | null }> = {
    "": { users: [user(1), user(2)], next_cursor: "c1" },
    c1: { users: [user(3)], next_cursor: "c2" },
    c2: { users: [user(4)], next_cursor: null },
  };
  const { fetch, sent } = fakeFetch((r) => json(pages[r.query.get("cursor") ?? ""]));
  const admin = adminClient({ baseUrl: BASE, credential: CREDENTIAL, fetch });
  const since = new Date("2026-01-01T00:00:00Z");
  const seen: string[] = [];
  for await (const u of admin.allUsers({ emailPrefix: "u", active: true, createdAfter: since }, 2)) seen.push(u.email);
  assert.deepEqual(seen, ["u1@example.com", "u2@example.com", "u3@example.com", "u4@example.com"]);
  assert.deepEqual(
    sent.map((s) => s.query.get("cursor")),
    [null, "c1", "c2"],
  );
  for (const s of sent) {
    assert.equal(`${s.method} ${s.path}`, "GET /admin/users");
    assert.deepEqual(Object.fromEntries(s.query), {
      email_prefix: "u",
      active: "true",
      created_after: "2026-01-01T00:00:00.000Z",
      limit: "2",
      ...(s.query.has("cursor") ? { cursor: s.query.get("cursor") } : {}),
    });
  }
});

test("a page without next_cursor at all ends the listing; leaving the loop early asks for no more pages", async () => {
  const { fetch, sent } = fakeFetch((r) =>
    json(r.query.has("cursor") ? { users: [user(3)] } : { users: [user(1), user(2)], next_cursor: "c1" }),
  );
  const admin = adminClient({ baseUrl: BASE, credential: CREDENTIAL, fetch });
  const pages: number[] = [];
  for await (const users of admin.userPages()) pages.push(users.length);
  assert.deepEqual(pages, [2, 1]);
  assert.equal(sent.length, 2);
  assert.equal(sent[0]!.query.toString(), "", "no filter: no parameters");

  sent.length = 0;
  for await (const u of admin.allUsers()) {
    assert.equal(u.email, "u1@example.com");
    break;
  }
  assert.equal(sent.length, 1, "the second page is fetched only when asked for");
});

test("a service credential goes as the bearer of every admin operation, with no refresh and no retry", async () => {
  const { fetch, sent } = fakeFetch((r) => {
    if (r.path === "/admin/users" && r.method === "GET") return json({ users: [] });
    if (r.path === "/admin/users/u1/events") return json({ events: [] });
    if (r.method === "GET") return json({ user: user(1), sessions: [], factors: [], passkeys: [], identities: [] });
    if (r.method === "POST" || r.method === "PATCH") return json(user(1), r.method === "POST" ? 201 : 200);
    return undefined;
  });
  const admin = adminClient({ baseUrl: BASE, credential: CREDENTIAL, fetch });
  await everyAdminCall(admin);
  assert.deepEqual(
    sent.map((s) => `${s.method} ${s.path}`),
    [
      "GET /admin/users",
      "GET /admin/users/u1",
      "POST /admin/users",
      "PATCH /admin/users/u1",
      "DELETE /admin/users/u1/sessions",
      "DELETE /admin/users/u1/sessions/s1",
      "GET /admin/users/u1/events",
      "DELETE /admin/users/u1/factors/f1",
      "DELETE /admin/users/u1",
    ],
  );
  for (const s of sent) assert.equal(s.auth, `Bearer ${CREDENTIAL}`, `${s.method} ${s.path}`);

  // A revoked or expired credential is a 401 to show, not a token to refresh.
  const refused = fakeFetch(() => problem(401, "unauthorized"));
  const revoked = adminClient({ baseUrl: BASE, credential: CREDENTIAL, fetch: refused.fetch });
  await assert.rejects(revoked.getUser("u1"), (err: unknown) => err instanceof ProblemError && err.status === 401);
  assert.deepEqual(
    refused.sent.map((s) => s.path),
    ["/admin/users/u1"],
  );
});

/** Calls every method of the admin client once, on user u1. */
async function everyAdminCall(admin: AuthdAdminClient) {
  await admin.listUsers({ role: "admin", limit: 10 });
  await admin.getUser("u1");
  await admin.createUser({ email: "new@example.com", roles: ["support"] });
  await admin.updateUser("u1", { emailVerified: true });
  await admin.revokeSessions("u1");
  await admin.revokeSession("u1", "s1");
  await admin.userEvents("u1", { limit: 5 });
  await admin.deleteFactor("u1", "f1");
  await admin.eraseUser("u1");
}

test("each admin call sends the contract's query and body, in the contract's names", async () => {
  const { fetch, sent } = fakeFetch((r) => (r.method === "GET" ? json({ users: [], events: [] }) : json(user(1))));
  const admin = adminClient({ baseUrl: BASE, credential: CREDENTIAL, fetch });
  await admin.listUsers({ verified: false, role: "support", createdBefore: "2026-12-01T00:00:00Z", cursor: "abc", limit: 200 });
  assert.deepEqual(Object.fromEntries(sent[0]!.query), {
    verified: "false",
    role: "support",
    created_before: "2026-12-01T00:00:00Z",
    cursor: "abc",
    limit: "200",
  });
  await admin.createUser({ email: "new@example.com" });
  assert.deepEqual(sent[1]!.body, { email: "new@example.com" });
  await admin.updateUser("u1", { active: false, emailVerified: false, roles: [] });
  assert.deepEqual(sent[2]!.body, { active: false, email_verified: false, roles: [] });
  await admin.updateUser("u1", { roles: ["admin"] });
  assert.deepEqual(sent[3]!.body, { roles: ["admin"] }, "only the fields given");
  await admin.userEvents("u1", { cursor: "1042" });
  assert.equal(sent[4]!.query.toString(), "cursor=1042");
});

test("a person's admin calls carry their access token, refreshed once after a 401", async () => {
  let refreshed = false;
  const { fetch, sent } = fakeFetch((r) => {
    if (r.path === "/auth/refresh-token") {
      refreshed = true;
      return json({ access_token: "access-2", refresh_token: "refresh-2", token_type: "Bearer", expires_in: 900 });
    }
    if (r.auth !== "Bearer access-2") return problem(401, "unauthorized");
    return json({ users: [user(1)] });
  });
  const { client } = loggedInClient(fetch);
  const page = await client.admin.listUsers();
  assert.deepEqual(
    page.users.map((u) => u.email),
    ["u1@example.com"],
  );
  assert.ok(refreshed);
  assert.deepEqual(
    sent.map((s) => `${s.path} ${s.auth}`),
    ["/admin/users Bearer access", "/auth/refresh-token null", "/admin/users Bearer access-2"],
  );
  assert.equal(client.admin, client.admin, "one admin client per user client");
});

test("the admin gate's refusals and the last-admin conflict are typed errors; other problems stay ProblemError", async () => {
  const cases: [Response, new (...args: never[]) => ProblemError][] = [
    [problem(403, "forbidden"), ForbiddenError],
    [problem(403, "mfa-required"), MfaRequiredError],
    [problem(403, "insufficient-scope"), InsufficientScopeError],
    [problem(409, "last-admin"), LastAdminError],
  ];
  for (const [answer, want] of cases) {
    const status = answer.status;
    const { fetch } = fakeFetch(() => answer.clone());
    const admin = adminClient({ baseUrl: BASE, credential: CREDENTIAL, fetch });
    await assert.rejects(admin.updateUser("u1", { roles: [] }), (err: unknown) => {
      assert.ok(err instanceof want, `${status}: ${String(err)}`);
      assert.ok(err instanceof ProblemError);
      assert.equal(err.status, status);
      return true;
    });
  }
  for (const [status, kind] of [
    [409, "conflict"],
    [403, "wrong-password"],
    [404, "not-found"],
  ] as const) {
    const { fetch } = fakeFetch(() => problem(status, kind));
    const admin = adminClient({ baseUrl: BASE, credential: CREDENTIAL, fetch });
    await assert.rejects(admin.eraseUser("u1"), (err: unknown) => {
      assert.equal(Object.getPrototypeOf(err), ProblemError.prototype, `${status} ${kind}`);
      return true;
    });
  }
  // The same mapping on the person's side, where no refresh is tried for a 403.
  const { fetch, sent } = fakeFetch(() => problem(403, "mfa-required"));
  const { client } = loggedInClient(fetch);
  await assert.rejects(client.admin.listUsers(), MfaRequiredError);
  assert.equal(sent.length, 1);
});

test("deleteMe erases with the password, then forgets the tokens; a refusal keeps them", async () => {
  const { fetch, sent } = fakeFetch(() => undefined);
  const { client } = loggedInClient(fetch);
  await client.deleteMe({ erase: true, currentPassword: "Correct-Horse-7" });
  assert.equal(sent.length, 1);
  assert.equal(`${sent[0]!.method} ${sent[0]!.path}?${sent[0]!.query}`, "DELETE /users/me?erase=true");
  assert.equal(sent[0]!.auth, "Bearer access");
  assert.deepEqual(sent[0]!.body, { current_password: "Correct-Horse-7" });
  assert.equal(client.tokens, null);

  const deactivate = fakeFetch(() => undefined);
  const other = loggedInClient(deactivate.fetch).client;
  await other.deleteMe();
  assert.equal(`${deactivate.sent[0]!.path}?${deactivate.sent[0]!.query}`, "/users/me?", "deactivation: no erase");
  assert.deepEqual(deactivate.sent[0]!.body, {}, "no password: an account without one");
  assert.equal(other.tokens, null);

  const lastAdmin = fakeFetch(() => problem(409, "last-admin"));
  const admin = loggedInClient(lastAdmin.fetch);
  await assert.rejects(admin.client.deleteMe({ erase: true, currentPassword: "x" }), LastAdminError);
  assert.equal(admin.client.tokens?.accessToken, "access");
});

test("exportMe sends the access token and answers the export; a step-up is asked for, not refreshed", async () => {
  const exported = { exported_at: "2026-12-02T10:00:00Z", user: {}, roles: [], sessions: [], events: [], factors: [], passkeys: [], identities: [] };
  const { fetch, sent } = fakeFetch(() => json(exported));
  const { client } = loggedInClient(fetch);
  assert.deepEqual(await client.exportMe(), exported);
  assert.equal(`${sent[0]!.method} ${sent[0]!.path} ${sent[0]!.auth}`, "GET /users/me/export Bearer access");

  const stepUp = fakeFetch(() =>
    problem(401, "step-up-required", { "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", max_age=600' }),
  );
  const stale = loggedInClient(stepUp.fetch).client;
  await assert.rejects(stale.exportMe(), (err: unknown) => err instanceof StepUpRequiredError && err.maxAge === 600);
  assert.deepEqual(
    stepUp.sent.map((s) => s.path),
    ["/users/me/export"],
  );
});
