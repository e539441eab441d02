// A small wrapper around the generated openapi-fetch client that keeps the
// token pair: it logs in, sends the access token to the operations that need
// it (and to no other), refreshes it shortly before it expires or once after a
// 401, with a single refresh in flight however many calls are waiting (two
// refreshes of one token would trip authd's reuse detection and end the
// session), and logs out. It also knows the second factor: a login that
// answers with an MFA challenge, its completion, and the step-up that
// sensitive operations ask for (a 401 that a refresh cannot cure), and
// passkeys: it fetches the WebAuthn options and posts the browser's
// credential, passing both through as JSON, so it needs no WebAuthn library
// itself (in a browser, `@simplewebauthn/browser` sits between the two calls).
// Federated login (OpenID Connect) needs no library either: the client makes
// the PKCE pair with WebCrypto and builds the URL the browser opens; the
// application keeps the verifier until authd's one-time code comes back.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { createPkcePair } from "./pkce.js";
import type { components, paths } from "./schema.gen.js";
import { ADMIN_OPERATIONS, AuthdAdminClient, credentialRunner, type AdminCredentialOptions, type UserExport } from "./admin.js";

export type { components, paths };
export { createPkcePair, pkceChallenge, type PkcePair } from "./pkce.js";
export { readOidcRedirect, withoutOidcRedirect, type OidcRedirect, type OidcRedirectError } from "./redirect.js";
export type Problem = components["schemas"]["Problem"];
export type User = components["schemas"]["User"];
export type TokenPair = components["schemas"]["TokenPair"];
export type Accepted = components["schemas"]["Accepted"];
export type LogoutScope = "current" | "others" | "all";
export type Factor = components["schemas"]["Factor"];
export type FactorList = components["schemas"]["FactorList"];
export type TotpEnrollment = components["schemas"]["TotpEnrollment"];
export type FactorActivated = components["schemas"]["FactorActivated"];
export type Passkey = components["schemas"]["Passkey"];
export type PasskeyList = components["schemas"]["PasskeyList"];
export type PasskeyAdded = components["schemas"]["PasskeyAdded"];
/** An OpenID Connect provider a login page can offer (`GET /auth/providers`). */
export type Provider = components["schemas"]["Provider"];
/** A provider identity linked to the account. */
export type Identity = components["schemas"]["Identity"];

/**
 * Where to send the browser and what to keep: open `authorizeUrl` (a
 * navigation, not `fetch`) and keep `verifier` until the browser comes back
 * to `redirect_to` with a code (in `sessionStorage`, say: it must survive the
 * round trip through the provider, and no other page should read it).
 */
export interface OidcStart {
  authorizeUrl: string;
  verifier: string;
}
/**
 * WebAuthn options as authd sends them: `PublicKeyCredentialCreationOptionsJSON`
 * (registration) or `PublicKeyCredentialRequestOptionsJSON` (login, second
 * factor, step-up) of WebAuthn Level 3, with `challenge` and `rpId` (or
 * `rp.id`). Pass them unchanged to `startRegistration({ optionsJSON })` or
 * `startAuthentication({ optionsJSON })` of `@simplewebauthn/browser` (or to
 * `PublicKeyCredential.parseCreationOptionsFromJSON()` and its request twin).
 */
export type PasskeyOptionsJSON = components["schemas"]["PasskeyOptions"]["options"];
/**
 * The browser's answer to those options, as WebAuthn Level 3 JSON
 * (`RegistrationResponseJSON` or `AuthenticationResponseJSON`: what
 * `startRegistration()`/`startAuthentication()` resolve to, or
 * `credential.toJSON()`); sent to authd unchanged.
 */
export interface PasskeyCredentialJSON {
  id: string;
  rawId: string;
  type: "public-key" | (string & {});
  response: object;
  clientExtensionResults?: object;
  authenticatorAttachment?: string | null;
}
/** A second-factor method; the contract's list is open (later features add values), so other strings may come. */
export type MfaMethod = "totp" | "recovery_code" | "passkey" | (string & {});

/**
 * The second step of a login: the password was right, no tokens yet. Complete
 * it with `verifyMfa(mfaToken, ...)` within `expiresIn` seconds, using one of
 * `methods`. With `enrollmentRequired` (authd runs with
 * `AUTHD_REQUIRE_MFA=true` and the account has no factor) enrol an
 * authenticator first with `enrollMfa(mfaToken)`, then verify its first code.
 */
export interface MfaChallenge {
  mfaToken: string;
  methods: MfaMethod[];
  enrollmentRequired: boolean;
  expiresIn: number;
}

/**
 * What `login()` answers: either the session started (the pair is stored, as
 * before) or a second factor is needed. Narrow on `mfaRequired`:
 *
 *     const res = await authd.login(email, password);
 *     if (res.mfaRequired) await authd.verifyMfa(res.challenge.mfaToken, { code });
 */
export type LoginResult = { mfaRequired: false; tokens: TokenPair } | { mfaRequired: true; challenge: MfaChallenge };

/**
 * A second factor: the current 6-digit code of the authenticator app, one
 * unused recovery code, or a passkey's assertion for the options of
 * `mfaPasskeyOptions()` (in `verifyMfa`) or `stepUpPasskeyOptions()` (in `stepUp`).
 */
export type SecondFactor = { code: string } | { recoveryCode: string } | { passkey: PasskeyCredentialJSON };

/** What `stepUp()` accepts: the password (accounts without a factor) or a second factor. */
export type StepUpProof = { password: string } | SecondFactor;

/** The tokens the wrapper keeps, with the access token's expiry in epoch ms. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  accessExpiresAt: number;
}

/**
 * Where tokens live between calls; in memory unless you pass your own.
 *
 * Several clients may share one store (one per browser tab over
 * localStorage, say). Each client has its own single flight, so two tabs can
 * present the same refresh token at once; authd answers the second with the
 * same successor, as a retry, within its retry window
 * (`AUTHD_REFRESH_RETRY_WINDOW`) while that successor is unused. A client re-reads the store before each
 * call and refresh, and keeps an answer only if the store still holds the
 * token it rotated: a newer pair another tab stored, or a logout, wins.
 */
export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export interface AuthdOptions {
  baseUrl: string;
  fetch?: typeof globalThis.fetch;
  /** Refresh this many seconds before the access token expires (default 30). */
  refreshSkewSeconds?: number;
  store?: TokenStore;
  /** The clock, in epoch ms (for tests). */
  now?: () => number;
}

/** An RFC 9457 problem answered by authd, typed as in the contract. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${status} ${problem.title}: ${problem.detail}`);
    this.name = "ProblemError";
  }
}

/**
 * A 401 `step-up-required`: the access token is fine, but the operation needs
 * a more recent authentication (`maxAge` seconds) or, with
 * `needsSecondFactor`, one with a second factor. A refresh does not help (it
 * keeps the session's level and `auth_time`), so the client does not retry:
 * call `stepUp()` and then the operation again.
 */
export class StepUpRequiredError extends ProblemError {
  /** The longest age, in seconds, of an authentication the operation accepts (RFC 9470 `max_age`). */
  readonly maxAge: number | undefined;
  /** The account has a second factor: step up with a code, not the password (`acr_values="aal2"`). */
  readonly needsSecondFactor: boolean;

  constructor(problem: Problem, wwwAuthenticate: string | null) {
    super(401, problem);
    this.name = "StepUpRequiredError";
    const maxAge = /max_age=(\d+)/.exec(wwwAuthenticate ?? "")?.[1];
    this.maxAge = maxAge === undefined ? undefined : Number(maxAge);
    this.needsSecondFactor = /acr_values="[^"]*\baal2\b/.test(wwwAuthenticate ?? "");
  }
}

/**
 * A 401 `invalid-oidc-code`: the one-time code from `redirect_to` is unknown,
 * used, expired (it lives a minute), of another session, or the verifier does
 * not prove it. Nothing to retry: start the login (or the link) again.
 */
export class InvalidOidcCodeError extends ProblemError {
  constructor(problem: Problem) {
    super(401, problem);
    this.name = "InvalidOidcCodeError";
  }
}

/** A 409 `identity-in-use`: the provider identity is linked to another account. */
export class IdentityInUseError extends ProblemError {
  constructor(problem: Problem) {
    super(409, problem);
    this.name = "IdentityInUseError";
  }
}

/**
 * A 409 `last-login-method`: removing this identity or passkey would leave
 * the account no way to log in (no password, passkey or other identity).
 * Add another first (a password through a reset, a passkey, an identity).
 */
export class LastLoginMethodError extends ProblemError {
  constructor(problem: Problem) {
    super(409, problem);
    this.name = "LastLoginMethodError";
  }
}

/** A 201 with the new account, or a 202: the account is created when the mailed link is redeemed. */
export type Registered = { status: 201; user: User } | { status: 202; accepted: Accepted };

/**
 * The operations openapi.yaml secures with bearerAuth; only these carry (or
 * wait for a refresh of) the access token, so no public endpoint ever sees
 * it. The tests check this list against the served contract.
 */
const SECURED = new Set([
  "POST /auth/email/confirm",
  "POST /auth/logout",
  "GET /users/me",
  "PUT /users/me",
  "DELETE /users/me",
  "GET /users/me/events",
  "GET /users/me/export",
  "GET /users/me/sessions",
  "DELETE /users/me/sessions/{id}",
  "POST /auth/step-up",
  "GET /users/me/factors",
  "POST /users/me/factors/totp",
  "POST /users/me/factors/{id}/verify",
  "DELETE /users/me/factors/{id}",
  "POST /users/me/recovery-codes",
  "POST /auth/step-up/passkey/options",
  "POST /users/me/passkeys/options",
  "GET /users/me/passkeys",
  "POST /users/me/passkeys",
  "PATCH /users/me/passkeys/{id}",
  "DELETE /users/me/passkeys/{id}",
  "GET /users/me/identities",
  "POST /users/me/identities",
  "POST /users/me/identities/{ref}",
  "DELETE /users/me/identities/{ref}",
]);

type Result<T> = { data?: T; error?: unknown; response: Response };

export class AuthdClient {
  /** The typed client for every operation of the contract. */
  readonly api: Client<paths>;
  private readonly baseUrl: string;
  private readonly store: TokenStore;
  private readonly skewMs: number;
  private readonly now: () => number;
  private refreshing: Promise<void> | null = null;

  constructor(opts: AuthdOptions) {
    this.api = createClient<paths>({ baseUrl: opts.baseUrl, fetch: opts.fetch });
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.store = opts.store ?? memoryStore();
    this.skewMs = (opts.refreshSkewSeconds ?? 30) * 1000;
    this.now = opts.now ?? Date.now;
    this.api.use(this.bearer);
  }

  /** The tokens currently held, if logged in. */
  get tokens(): Tokens | null {
    return this.store.get();
  }

  /** Registers; with `AUTHD_REQUIRE_VERIFIED_EMAIL=true` the outcome is always the 202. */
  async register(email: string, password: string): Promise<Registered> {
    const { data, error, response } = await this.api.POST("/auth/register", { body: { email, password } });
    if (response.status === 201 && data && "id" in data) return { status: 201, user: data };
    if (response.status === 202 && data && "status" in data) return { status: 202, accepted: data };
    throw asProblem(response, error);
  }

  /**
   * Logs in with the password. Without a second factor the session starts
   * and the pair is stored (`mfaRequired: false`); with one, nothing is
   * stored yet and the answer is the challenge to complete with
   * `verifyMfa()` (`mfaRequired: true`).
   */
  async login(email: string, password: string): Promise<LoginResult> {
    return this.loginResult(await this.api.POST("/auth/login", { body: { email, password } }));
  }

  /** A login's answer: the pair (stored) or the second step's challenge. */
  private loginResult({ data, error, response }: Result<TokenPair | components["schemas"]["MfaChallenge"]>): LoginResult {
    if (response.status === 202 && data && "mfa_token" in data) {
      return {
        mfaRequired: true,
        challenge: {
          mfaToken: data.mfa_token,
          methods: data.methods,
          enrollmentRequired: data.enrollment_required,
          expiresIn: data.expires_in,
        },
      };
    }
    if (response.status !== 200 || !data || !("access_token" in data)) throw asProblem(response, error);
    this.keep(data);
    return { mfaRequired: false, tokens: data };
  }

  /** The OpenID Connect providers to offer on a login page, in configured order; `available` is false while authd cannot reach one. */
  async providers(): Promise<Provider[]> {
    const { data, error, response } = await this.api.GET("/auth/providers");
    if (!data) throw asProblem(response, error);
    return data.providers;
  }

  /**
   * Starts a login with an OpenID Connect provider (a name of
   * `providers()`, or the provider itself): makes a PKCE pair and returns
   * the URL to open in the browser with the verifier to keep. authd sends
   * the browser on to the provider and, at the end, to `redirectTo` (one of
   * `AUTHD_REDIRECT_URLS`, exactly) with `code` or `error` (see
   * `readOidcRedirect`); finish with `finishOidcLogin(code, verifier)`.
   * Nothing is sent to authd here.
   */
  async startOidcLogin(provider: string | Provider, redirectTo: string): Promise<OidcStart> {
    const pair = await createPkcePair();
    const path = typeof provider === "string" ? `/auth/oidc/${encodeURIComponent(provider)}/authorize` : provider.authorize_path;
    const query = new URLSearchParams({ redirect_to: redirectTo, code_challenge: pair.challenge, code_challenge_method: "S256" });
    return { authorizeUrl: `${this.baseUrl}${path}?${query}`, verifier: pair.verifier };
  }

  /**
   * Exchanges the one-time code from `redirect_to` with the verifier of
   * `startOidcLogin`, as `login()` ends: the pair is stored
   * (`mfaRequired: false`, `amr` `["fed"]`), or the account has a second
   * factor and the challenge goes to `verifyMfa()` (`mfaRequired: true`). A
   * code that does not work throws `InvalidOidcCodeError`.
   */
  async finishOidcLogin(code: string, verifier: string): Promise<LoginResult> {
    return this.loginResult(await this.api.POST("/auth/oidc/token", { body: { code, code_verifier: verifier } }));
  }

  /** The provider identities linked to the account, oldest first. */
  async identities(): Promise<Identity[]> {
    return (await this.authed(() => this.api.GET("/users/me/identities"))).identities;
  }

  /**
   * Starts linking a provider identity to the account (needs step-up and,
   * when the account has a password, `currentPassword`). Open
   * `authorizeUrl` in the browser and keep `verifier`; the browser comes
   * back to `redirectTo` with `linked=1` and a `code` for
   * `completeIdentityLink(code, verifier)` from this same session.
   */
  async startIdentityLink(provider: string, opts: { redirectTo: string; currentPassword?: string }): Promise<OidcStart> {
    const pair = await createPkcePair();
    const body = {
      redirect_to: opts.redirectTo,
      code_challenge: pair.challenge,
      code_challenge_method: "S256" as const,
      ...passwordBody(opts.currentPassword),
    };
    const started = await this.authed(() =>
      this.api.POST("/users/me/identities/{ref}", { params: { path: { ref: provider } }, body }),
    );
    return { authorizeUrl: started.authorize_url, verifier: pair.verifier };
  }

  /** Ends a link: the identity logs in to this account from now on. `IdentityInUseError` when another account has it. */
  async completeIdentityLink(code: string, verifier: string): Promise<Identity> {
    return this.authed(() => this.api.POST("/users/me/identities", { body: { code, code_verifier: verifier } }));
  }

  /**
   * Unlinks an identity (needs step-up and, when the account has a
   * password, `currentPassword`). `LastLoginMethodError` when it is the
   * account's last way to log in.
   */
  async deleteIdentity(id: string, currentPassword?: string): Promise<void> {
    await this.authed(() =>
      this.api.DELETE("/users/me/identities/{ref}", { params: { path: { ref: id } }, body: passwordBody(currentPassword) }),
    );
  }

  /**
   * Completes a login that answered with a challenge, with a TOTP code, a
   * recovery code or a passkey (the assertion for the options of
   * `mfaPasskeyOptions(mfaToken)`), and stores the pair. After a required
   * enrolment the pair carries the account's new `recovery_codes`, shown
   * this once.
   */
  async verifyMfa(mfaToken: string, factor: SecondFactor): Promise<TokenPair> {
    const body = { mfa_token: mfaToken, ...factorBody(factor) };
    const { data, error, response } = await this.api.POST("/auth/mfa/verify", { body });
    if (!data) throw asProblem(response, error);
    this.keep(data);
    return data;
  }

  /**
   * For a challenge with `enrollmentRequired`: enrols an authenticator app
   * (show `qr_code` or `secret`); `verifyMfa(mfaToken, { code })` with its
   * first code then activates it and completes the login.
   */
  async enrollMfa(mfaToken: string, friendlyName?: string): Promise<TotpEnrollment> {
    const { data, error, response } = await this.api.POST("/auth/mfa/totp", {
      body: friendlyName === undefined ? { mfa_token: mfaToken } : { mfa_token: mfaToken, friendly_name: friendlyName },
    });
    if (!data) throw asProblem(response, error);
    return data;
  }

  /**
   * For a challenge with `passkey` among its `methods`: the WebAuthn request
   * options listing the account's passkeys. Answer them in the browser and
   * pass the assertion to `verifyMfa(mfaToken, { passkey })`.
   */
  async mfaPasskeyOptions(mfaToken: string): Promise<PasskeyOptionsJSON> {
    const { data, error, response } = await this.api.POST("/auth/mfa/passkey/options", { body: { mfa_token: mfaToken } });
    if (!data) throw asProblem(response, error);
    return data.options;
  }

  /**
   * Authenticates again on the current session, for the operations that
   * threw `StepUpRequiredError`, and stores the new pair (the session's
   * previous refresh token is used up). An account with a second factor
   * needs a code, a recovery code or a passkey (the assertion for the
   * options of `stepUpPasskeyOptions()`); a password alone is refused.
   */
  async stepUp(proof: StepUpProof): Promise<TokenPair> {
    const body = "password" in proof ? { password: proof.password } : factorBody(proof);
    // A refresh in flight uses up the refresh token this step-up replaces:
    // let it land first, or presenting it later would read as reuse.
    if (this.refreshing) await this.refreshing.catch(() => undefined);
    const pair = await this.authed(() => this.api.POST("/auth/step-up", { body }));
    this.keep(pair);
    return pair;
  }

  /** The WebAuthn request options for `stepUp({ passkey })`, listing the caller's passkeys (409 `factor-required` without any). */
  async stepUpPasskeyOptions(): Promise<PasskeyOptionsJSON> {
    return (await this.authed(() => this.api.POST("/auth/step-up/passkey/options"))).options;
  }

  /**
   * Starts a passwordless login: WebAuthn request options for a discoverable
   * credential (no email: the authenticator offers the passkeys it holds).
   * Answer them in the browser and pass the assertion to `loginWithPasskey()`.
   */
  async passkeyLoginOptions(): Promise<PasskeyOptionsJSON> {
    const { data, error, response } = await this.api.POST("/auth/passkey/options");
    if (!data) throw asProblem(response, error);
    return data.options;
  }

  /**
   * Logs in with a passkey's assertion and stores the pair, as `login()`
   * does; there is no second step (the passkey is both factors: `amr`
   * `["hwk" or "swk", "user"]`, `aal` 2). Every failure is the same 401
   * `invalid-credentials`, and nothing is stored.
   */
  async loginWithPasskey(credential: PasskeyCredentialJSON): Promise<TokenPair> {
    const { data, error, response } = await this.api.POST("/auth/passkey/login", { body: { credential: asCredential(credential) } });
    if (!data) throw asProblem(response, error);
    this.keep(data);
    return data;
  }

  /**
   * Starts adding a passkey (needs step-up and the current password): the
   * WebAuthn creation options; answer them in the browser and pass the
   * credential to `registerPasskey()` from the same session.
   */
  async passkeyRegistrationOptions(currentPassword?: string): Promise<PasskeyOptionsJSON> {
    return (await this.authed(() => this.api.POST("/users/me/passkeys/options", { body: passwordBody(currentPassword) }))).options;
  }

  /** Stores the new passkey; when it is the account's first factor the answer carries the 10 recovery codes, shown this once. */
  async registerPasskey(credential: PasskeyCredentialJSON, friendlyName?: string): Promise<PasskeyAdded> {
    const body = friendlyName === undefined
      ? { credential: asCredential(credential) }
      : { credential: asCredential(credential), friendly_name: friendlyName };
    return this.authed(() => this.api.POST("/users/me/passkeys", { body }));
  }

  /** The account's passkeys, oldest first. */
  async listPasskeys(): Promise<PasskeyList> {
    return this.authed(() => this.api.GET("/users/me/passkeys"));
  }

  async renamePasskey(id: string, friendlyName: string): Promise<Passkey> {
    return this.authed(() =>
      this.api.PATCH("/users/me/passkeys/{id}", { params: { path: { id } }, body: { friendly_name: friendlyName } }),
    );
  }

  /** Removes a passkey (needs step-up and the current password). */
  async deletePasskey(id: string, currentPassword?: string): Promise<void> {
    await this.authed(() =>
      this.api.DELETE("/users/me/passkeys/{id}", { params: { path: { id } }, body: passwordBody(currentPassword) }),
    );
  }

  /** The account's factors and how many recovery codes remain. */
  async listFactors(): Promise<FactorList> {
    return this.authed(() => this.api.GET("/users/me/factors"));
  }

  /**
   * Starts enrolling an authenticator app (needs step-up and, when the
   * account has one, the current password); activate it with
   * `verifyFactor()` from the same session.
   */
  async startTotpEnrollment(currentPassword?: string, friendlyName?: string): Promise<TotpEnrollment> {
    const body = friendlyName === undefined
      ? passwordBody(currentPassword)
      : { ...passwordBody(currentPassword), friendly_name: friendlyName };
    return this.authed(() => this.api.POST("/users/me/factors/totp", { body }));
  }

  /** Activates an enrolled factor with its first code; a first factor's answer carries the 10 recovery codes, shown this once. */
  async verifyFactor(id: string, code: string): Promise<FactorActivated> {
    return this.authed(() => this.api.POST("/users/me/factors/{id}/verify", { params: { path: { id } }, body: { code } }));
  }

  /** Removes a factor (needs step-up, with a factor on the account a recent code, and the current password). */
  async deleteFactor(id: string, currentPassword?: string): Promise<void> {
    await this.authed(() =>
      this.api.DELETE("/users/me/factors/{id}", { params: { path: { id } }, body: passwordBody(currentPassword) }),
    );
  }

  /** Voids the recovery codes and returns 10 new ones (needs step-up and the current password). */
  async regenerateRecoveryCodes(currentPassword?: string): Promise<string[]> {
    return (await this.authed(() => this.api.POST("/users/me/recovery-codes", { body: passwordBody(currentPassword) }))).recovery_codes;
  }

  async me(): Promise<User> {
    return this.authed(() => this.api.GET("/users/me"));
  }

  private adminApi?: AuthdAdminClient;

  /**
   * The admin API with this client's access token (refreshed as for every
   * call). The account needs the `admin` role and, unless authd runs with
   * `AUTHD_ADMIN_REQUIRE_MFA=false`, a session at `aal` 2: a login with a
   * second factor, or `stepUp()` with a code or passkey after
   * `MfaRequiredError`. For automation use `adminClient()` instead.
   */
  get admin(): AuthdAdminClient {
    this.adminApi ??= new AuthdAdminClient((call) => this.authed(() => call(this.api)));
    return this.adminApi;
  }

  /**
   * Everything authd holds about the account (the right of access): profile,
   * roles, every session, event, factor, passkey and identity, never a
   * secret. Needs step-up (`StepUpRequiredError`, then `stepUp()`).
   */
  async exportMe(): Promise<UserExport> {
    return this.authed(() => this.api.GET("/users/me/export"));
  }

  /**
   * Deactivates the account (it can no longer log in; the address stays
   * taken) or, with `erase: true`, erases it and every row that names it
   * for good (the address is free again). Needs step-up and, when the
   * account has a password, `currentPassword`. Every session ends, so the
   * tokens are forgotten. `LastAdminError` for the last active admin.
   */
  async deleteMe(opts: { erase?: boolean; currentPassword?: string } = {}): Promise<void> {
    const body = opts.currentPassword === undefined ? {} : { current_password: opts.currentPassword };
    await this.authed(() => this.api.DELETE("/users/me", { params: { query: opts.erase ? { erase: true } : {} }, body }));
    this.store.set(null);
  }

  /**
   * Ends the current session (or the others, or all) and, unless the scope is
   * "others", forgets the tokens even when the request fails: this device is
   * logged out either way. It still throws then, because the session may live
   * on at authd until it expires.
   */
  async logout(scope: LogoutScope = "current"): Promise<void> {
    try {
      await this.authed(() => this.api.POST("/auth/logout", { params: { query: { scope } } }));
    } finally {
      if (scope !== "others") this.store.set(null);
    }
  }

  /**
   * Runs an authenticated call; on a 401 it refreshes once (sharing a refresh
   * already under way) and runs the call again. A 401 that is not about the
   * access token is not retried: `step-up-required` throws
   * `StepUpRequiredError`, `invalid-oidc-code` `InvalidOidcCodeError` (the
   * code is used up; sending it again could not help).
   */
  async authed<T>(call: () => Promise<Result<T>>): Promise<T> {
    const sentWith = this.store.get()?.accessToken;
    let res = await call();
    if (res.response.status === 401 && this.store.get() && !isStepUpRequired(res.error) && !isProblemOf(res.error, "invalid-oidc-code")) {
      // A 401 for a token that a concurrent refresh already replaced only
      // needs a retry, not another refresh.
      if (this.store.get()?.accessToken === sentWith) await this.refresh();
      res = await call();
    }
    if (res.error !== undefined || !res.response.ok) throw asProblem(res.response, res.error);
    return res.data as T;
  }

  /**
   * Rotates the token pair; concurrent callers of this client share one
   * request (clients sharing a store: see TokenStore). Once it resolves, the
   * store holds a pair at least as new as the one it started from.
   */
  refresh(): Promise<void> {
    this.refreshing ??= this.rotate().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async rotate(): Promise<void> {
    const held = this.store.get();
    if (!held) throw new Error("not logged in");
    const { data, error, response } = await this.api.POST("/auth/refresh-token", { body: { refresh_token: held.refreshToken } });
    // While the request was out, a logout or another client on this store
    // (another tab that rotated first) may have changed the store; its state
    // wins over this answer, which would bring back old or ended tokens.
    const current = this.store.get();
    if (current?.refreshToken !== held.refreshToken) {
      if (!current) throw new Error("not logged in");
      return;
    }
    if (!data) {
      if (response.status === 401) this.store.set(null); // the session is over
      throw asProblem(response, error);
    }
    this.keep(data);
  }

  private keep(pair: TokenPair): void {
    this.store.set({
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      accessExpiresAt: this.now() + pair.expires_in * 1000,
    });
  }

  /** Adds the access token, refreshing it first when it is about to expire. */
  private readonly bearer: Middleware = {
    onRequest: async ({ request, schemaPath }) => {
      const operation = `${request.method} ${schemaPath}`;
      if (!SECURED.has(operation) && !ADMIN_OPERATIONS.has(operation)) return undefined;
      const held = this.store.get();
      if (held && held.accessExpiresAt - this.skewMs <= this.now()) {
        await this.refresh();
      }
      const token = this.store.get()?.accessToken;
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
}

/** A TokenStore in memory. */
export function memoryStore(): TokenStore {
  let tokens: Tokens | null = null;
  return {
    get: () => tokens,
    set: (t) => {
      tokens = t;
    },
  };
}

/** `current_password` when given: accounts created by a federated login have none and send an empty body. */
function passwordBody(currentPassword: string | undefined): { current_password?: string } {
  return currentPassword === undefined ? {} : { current_password: currentPassword };
}

function factorBody(factor: SecondFactor) {
  if ("code" in factor) return { code: factor.code };
  if ("recoveryCode" in factor) return { recovery_code: factor.recoveryCode };
  return { passkey: asCredential(factor.passkey) };
}

/** The credential as the contract types it: authd checks the content, the client passes it through. */
function asCredential(credential: PasskeyCredentialJSON): components["schemas"]["PasskeyCredential"] {
  return credential as components["schemas"]["PasskeyCredential"];
}

function isStepUpRequired(error: unknown): error is Problem {
  return isProblemOf(error, "step-up-required");
}

/** A problem whose type is https://authd.dev/problems/<kind> (compared by its last segment). */
function isProblemOf(error: unknown, kind: string): error is Problem {
  return isProblem(error) && error.type.endsWith(`/${kind}`);
}

function isProblem(error: unknown): error is Problem {
  return !!error && typeof error === "object" && "type" in error && typeof error.type === "string" && "status" in error;
}

function asProblem(response: Response, error: unknown): ProblemError {
  const admin = adminProblem(response.status, error);
  if (admin) return admin;
  if (response.status === 401 && isStepUpRequired(error)) return new StepUpRequiredError(error, response.headers.get("WWW-Authenticate"));
  if (isProblem(error)) {
    if (response.status === 401 && isProblemOf(error, "invalid-oidc-code")) return new InvalidOidcCodeError(error);
    if (response.status === 409 && isProblemOf(error, "identity-in-use")) return new IdentityInUseError(error);
    if (response.status === 409 && isProblemOf(error, "last-login-method")) return new LastLoginMethodError(error);
    return new ProblemError(response.status, error);
  }
  return new ProblemError(response.status, {
    type: "about:blank",
    title: response.statusText || "Error",
    status: response.status,
    detail: "The response was not a problem document.",
    request_id: response.headers.get("X-Request-ID") ?? "",
  });
}

export {
  ADMIN_OPERATIONS,
  AuthdAdminClient,
  type AdminCredentialOptions,
  type AdminScope,
  type AdminUser,
  type AdminUserDetail,
  type AdminUserFilter,
  type AdminUserPage,
  type AdminUserPageRequest,
  type AdminUserUpdate,
  type SecurityEvent,
  type EventPage,
  type UserExport,
} from "./admin.js";

/**
 * The admin API as automation: a service credential (`authd admin
 * credentials create --name ci --scopes users:read`) sent as the bearer
 * token of the admin operations and of nothing else. There is no refresh:
 * a revoked or expired credential is a 401 `ProblemError`, a missing scope
 * `InsufficientScopeError`.
 */
export function adminClient(opts: AdminCredentialOptions): AuthdAdminClient {
  return new AuthdAdminClient(credentialRunner(opts, asProblem));
}

/** A 403 `forbidden`: the account has no `admin` role (any more: a revoke takes effect at the next request). */
export class ForbiddenError extends ProblemError {
  constructor(problem: Problem) {
    super(403, problem);
    this.name = "ForbiddenError";
  }
}

/**
 * A 403 `mfa-required`: an admin whose session has no second factor
 * (`aal` 1). Step up with a code or a passkey (`stepUp()`; enrol a factor
 * first if the account has none) and call again.
 */
export class MfaRequiredError extends ProblemError {
  constructor(problem: Problem) {
    super(403, problem);
    this.name = "MfaRequiredError";
  }
}

/** A 403 `insufficient-scope`: the service credential lacks the operation's scope (see `ADMIN_OPERATIONS`). */
export class InsufficientScopeError extends ProblemError {
  constructor(problem: Problem) {
    super(403, problem);
    this.name = "InsufficientScopeError";
  }
}

/** A 409 `last-admin`: the change would leave no active admin; make another admin first. */
export class LastAdminError extends ProblemError {
  constructor(problem: Problem) {
    super(409, problem);
    this.name = "LastAdminError";
  }
}

/** The typed error of the admin gate's refusals and of `last-admin`, or undefined for any other answer. */
function adminProblem(status: number, error: unknown): ProblemError | undefined {
  if (!isProblem(error)) return undefined;
  const kind = error.type.slice(error.type.lastIndexOf("/") + 1);
  if (status === 403 && kind === "forbidden") return new ForbiddenError(error);
  if (status === 403 && kind === "mfa-required") return new MfaRequiredError(error);
  if (status === 403 && kind === "insufficient-scope") return new InsufficientScopeError(error);
  if (status === 409 && kind === "last-admin") return new LastAdminError(error);
  return undefined;
}
