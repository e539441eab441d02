// Federated login in the client, checked without a provider: the PKCE pair
// against RFC 7636's own example, the URLs it builds, what it sends, and how
// it maps authd's answers, with a fake fetch that answers like authd would.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthdClient,
  IdentityInUseError,
  InvalidOidcCodeError,
  LastLoginMethodError,
  ProblemError,
  createPkcePair,
  memoryStore,
  pkceChallenge,
  readOidcRedirect,
  withoutOidcRedirect,
  type Identity,
  type Provider,
} from "../src/index.js";

/** A fake authd: answers each "METHOD /path" with a canned response and records what the client sent. */
function fakeAuthd(routes: Record<string, () => Response>) {
  const sent: { method: string; path: string; auth: string | null; body: unknown }[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(input, init);
    const path = new URL(req.url).pathname;
    const text = await req.text();
    sent.push({ method: req.method, path, auth: req.headers.get("Authorization"), body: text ? JSON.parse(text) : undefined });
    const route = routes[`${req.method} ${path}`];
    if (!route) throw new Error(`unexpected ${req.method} ${path}`);
    return route();
  };
  return { fetch, sent };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const problem = (status: number, kind: string) =>
  new Response(JSON.stringify({ type: `https://authd.dev/problems/${kind}`, title: kind, status, detail: kind, request_id: "req" }), {
    status,
    headers: { "Content-Type": "application/problem+json" },
  });

const pair = { access_token: "access", refresh_token: "refresh", token_type: "Bearer", expires_in: 900 };

const identity: Identity = {
  id: "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b",
  provider: "google",
  email: "ada@example.com",
  email_verified: true,
  created_at: "2026-12-02T10:00:00Z",
  last_login_at: null,
};

function client(routes: Record<string, () => Response>, opts: { baseUrl?: string; loggedIn?: boolean } = {}) {
  const fake = fakeAuthd(routes);
  const store = memoryStore();
  if (opts.loggedIn) store.set({ accessToken: "held", refreshToken: "held-refresh", accessExpiresAt: Date.now() + 3_600_000 });
  return { authd: new AuthdClient({ baseUrl: opts.baseUrl ?? "https://auth.example.com", fetch: fake.fetch, store }), sent: fake.sent, store };
}

test("the S256 challenge matches RFC 7636 appendix B", async () => {
  assert.equal(await pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});

test("a new PKCE pair: a 43-character verifier of 32 random bytes, its own challenge, never the same twice", async () => {
  const verifiers = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const { verifier, challenge } = await createPkcePair();
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(verifier, "base64url").length, 32);
    assert.equal(challenge, await pkceChallenge(verifier));
    assert.match(challenge, /^[A-Za-z0-9_-]{43}$/, "the pattern the authorize step accepts");
    verifiers.add(verifier);
  }
  assert.equal(verifiers.size, 50);
});

test("a verifier outside RFC 7636's length or alphabet is refused, not hashed", async () => {
  for (const bad of ["short", "a".repeat(42), "a".repeat(129), "a".repeat(42) + "+", "a".repeat(42) + "="]) {
    await assert.rejects(pkceChallenge(bad), RangeError, bad);
  }
  assert.equal((await pkceChallenge("a".repeat(128))).length, 43);
  assert.equal((await pkceChallenge("A-._~".repeat(9))).length, 43);
});

test("startOidcLogin builds the authorize URL under the base URL and sends nothing", async () => {
  const { authd, sent } = client({}, { baseUrl: "https://example.com/authd/" });
  const redirectTo = "https://app.example.com/auth/done?from=/settings&x=a b";
  const byName = await authd.startOidcLogin("google", redirectTo);
  const url = new URL(byName.authorizeUrl);
  assert.equal(url.origin + url.pathname, "https://example.com/authd/auth/oidc/google/authorize");
  assert.equal(url.searchParams.get("redirect_to"), redirectTo, "redirect_to comes back exactly as given");
  assert.equal(url.searchParams.get("code_challenge"), await pkceChallenge(byName.verifier));
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  assert.deepEqual([...url.searchParams.keys()].sort(), ["code_challenge", "code_challenge_method", "redirect_to"]);

  const corp: Provider = { name: "corp", display_name: "Corp SSO", authorize_path: "/auth/oidc/corp/authorize", available: true };
  const byProvider = await authd.startOidcLogin(corp, redirectTo);
  assert.ok(byProvider.authorizeUrl.startsWith("https://example.com/authd/auth/oidc/corp/authorize?"));
  assert.notEqual(byProvider.verifier, byName.verifier, "each login has its own pair");
  assert.equal(sent.length, 0, "the browser opens the URL; the client calls nothing");
});

test("finishOidcLogin stores the pair, sends the code and verifier without a bearer token", async () => {
  const { authd, sent, store } = client({ "POST /auth/oidc/token": () => json(200, pair) });
  const res = await authd.finishOidcLogin("one-time", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  assert.deepEqual(res, { mfaRequired: false, tokens: pair });
  assert.equal(store.get()?.accessToken, "access");
  assert.deepEqual(sent, [
    { method: "POST", path: "/auth/oidc/token", auth: null, body: { code: "one-time", code_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" } },
  ]);
});

test("finishOidcLogin answers the MFA challenge like login() and stores nothing", async () => {
  const challenge = { mfa_token: "mfa", methods: ["totp", "passkey"], enrollment_required: false, expires_in: 300 };
  const { authd, store } = client({ "POST /auth/oidc/token": () => json(202, challenge) });
  const res = await authd.finishOidcLogin("one-time", "v".repeat(43));
  assert.deepEqual(res, { mfaRequired: true, challenge: { mfaToken: "mfa", methods: ["totp", "passkey"], enrollmentRequired: false, expiresIn: 300 } });
  assert.equal(store.get(), null);
});

test("a code that does not work is an InvalidOidcCodeError and stores nothing", async () => {
  const { authd, store } = client({ "POST /auth/oidc/token": () => problem(401, "invalid-oidc-code") });
  await assert.rejects(authd.finishOidcLogin("used", "v".repeat(43)), (err: unknown) => {
    assert.ok(err instanceof InvalidOidcCodeError && err instanceof ProblemError);
    assert.equal(err.status, 401);
    assert.match(err.problem.type, /\/invalid-oidc-code$/);
    return true;
  });
  assert.equal(store.get(), null);
});

test("providers() and identities() answer the lists; only identities() carries the token", async () => {
  const google: Provider = { name: "google", display_name: "Google", authorize_path: "/auth/oidc/google/authorize", available: false };
  const { authd, sent } = client(
    { "GET /auth/providers": () => json(200, { providers: [google] }), "GET /users/me/identities": () => json(200, { identities: [identity] }) },
    { loggedIn: true },
  );
  assert.deepEqual(await authd.providers(), [google]);
  assert.deepEqual(await authd.identities(), [identity]);
  assert.deepEqual(
    sent.map((r) => `${r.method} ${r.path} ${r.auth}`),
    ["GET /auth/providers null", "GET /users/me/identities Bearer held"],
  );
});

test("startIdentityLink sends its own challenge and the password only when given", async () => {
  const authorizeUrl = "https://auth.example.com/auth/oidc/google/authorize?link=token";
  const { authd, sent } = client({ "POST /users/me/identities/google": () => json(200, { authorize_url: authorizeUrl }) }, { loggedIn: true });
  const withPassword = await authd.startIdentityLink("google", { redirectTo: "https://app.example.com/linked", currentPassword: "Correct-Horse-7" });
  const without = await authd.startIdentityLink("google", { redirectTo: "https://app.example.com/linked" });
  assert.equal(withPassword.authorizeUrl, authorizeUrl);
  assert.notEqual(withPassword.verifier, without.verifier);
  assert.deepEqual(sent[0], {
    method: "POST",
    path: "/users/me/identities/google",
    auth: "Bearer held",
    body: {
      redirect_to: "https://app.example.com/linked",
      code_challenge: await pkceChallenge(withPassword.verifier),
      code_challenge_method: "S256",
      current_password: "Correct-Horse-7",
    },
  });
  assert.deepEqual(sent[1]?.body, {
    redirect_to: "https://app.example.com/linked",
    code_challenge: await pkceChallenge(without.verifier),
    code_challenge_method: "S256",
  });
});

test("completeIdentityLink answers the identity, or IdentityInUseError when another account has it", async () => {
  let answer = () => json(201, identity);
  const { authd, sent } = client({ "POST /users/me/identities": () => answer() }, { loggedIn: true });
  assert.deepEqual(await authd.completeIdentityLink("code", "v".repeat(43)), identity);
  assert.deepEqual(sent[0], { method: "POST", path: "/users/me/identities", auth: "Bearer held", body: { code: "code", code_verifier: "v".repeat(43) } });
  answer = () => problem(409, "identity-in-use");
  await assert.rejects(authd.completeIdentityLink("code", "v".repeat(43)), (err: unknown) => err instanceof IdentityInUseError && err.status === 409);
  // The code is used up: no refresh and no second try (a refresh would not help, and the session is fine).
  answer = () => problem(401, "invalid-oidc-code");
  sent.length = 0;
  await assert.rejects(authd.completeIdentityLink("code", "v".repeat(43)), InvalidOidcCodeError);
  assert.deepEqual(sent.map((r) => r.path), ["/users/me/identities"]);
});

test("removing the last way to log in is a LastLoginMethodError; other conflicts stay plain problems", async () => {
  let answer = () => problem(409, "last-login-method");
  const { authd, sent } = client(
    { "DELETE /users/me/identities/x": () => answer(), "DELETE /users/me/passkeys/p": () => answer() },
    { loggedIn: true },
  );
  await assert.rejects(authd.deleteIdentity("x"), (err: unknown) => err instanceof LastLoginMethodError && err.status === 409);
  await assert.rejects(authd.deletePasskey("p"), LastLoginMethodError);
  assert.deepEqual(sent.map((r) => r.body), [{}, {}], "an account without a password sends none");
  answer = () => problem(409, "factor-limit");
  await assert.rejects(authd.deleteIdentity("x", "Correct-Horse-7"), (err: unknown) => {
    assert.ok(err instanceof ProblemError);
    assert.ok(!(err instanceof LastLoginMethodError || err instanceof IdentityInUseError));
    return true;
  });
  assert.deepEqual(sent[2]?.body, { current_password: "Correct-Horse-7" });
  answer = () => new Response(null, { status: 204 });
  await authd.deleteIdentity("x", "Correct-Horse-7");
});

test("readOidcRedirect reads a code, a link's code or an error, and the address can be cleaned", () => {
  assert.deepEqual(readOidcRedirect("https://app.example.com/done?code=abc"), { code: "abc", linked: false });
  assert.deepEqual(readOidcRedirect("https://app.example.com/done?linked=1&code=abc"), { code: "abc", linked: true });
  assert.deepEqual(readOidcRedirect("https://app.example.com/done?error=account_exists"), { error: "account_exists" });
  assert.deepEqual(readOidcRedirect("https://app.example.com/done?error=access_denied&code=abc"), { error: "access_denied" }, "an error wins");
  assert.equal(readOidcRedirect("https://app.example.com/done?tab=2"), null);
  assert.equal(withoutOidcRedirect("https://app.example.com/done?linked=1&code=abc"), "https://app.example.com/done");
  assert.equal(withoutOidcRedirect("https://app.example.com/done?tab=2&error=x#top"), "https://app.example.com/done?tab=2#top");
});
