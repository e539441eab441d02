// A small wrapper around the generated openapi-fetch client that keeps the
// token pair: it logs in, sends the access token to the operations that need
// it (and to no other), refreshes it shortly before it expires or once after a
// 401, with a single refresh in flight however many calls are waiting (two
// refreshes of one token would trip authd's reuse detection and end the
// session), and logs out.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.gen.js";

export type { components, paths };
export type Problem = components["schemas"]["Problem"];
export type User = components["schemas"]["User"];
export type TokenPair = components["schemas"]["TokenPair"];
export type Accepted = components["schemas"]["Accepted"];
export type LogoutScope = "current" | "others" | "all";

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
  "GET /users/me/sessions",
  "DELETE /users/me/sessions/{id}",
]);

type Result<T> = { data?: T; error?: unknown; response: Response };

export class AuthdClient {
  /** The typed client for every operation of the contract. */
  readonly api: Client<paths>;
  private readonly store: TokenStore;
  private readonly skewMs: number;
  private readonly now: () => number;
  private refreshing: Promise<void> | null = null;

  constructor(opts: AuthdOptions) {
    this.api = createClient<paths>({ baseUrl: opts.baseUrl, fetch: opts.fetch });
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

  async login(email: string, password: string): Promise<TokenPair> {
    const { data, error, response } = await this.api.POST("/auth/login", { body: { email, password } });
    if (!data) throw asProblem(response, error);
    this.keep(data);
    return data;
  }

  async me(): Promise<User> {
    return this.authed(() => this.api.GET("/users/me"));
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
   * already under way) and runs the call again.
   */
  async authed<T>(call: () => Promise<Result<T>>): Promise<T> {
    const sentWith = this.store.get()?.accessToken;
    let res = await call();
    if (res.response.status === 401 && this.store.get()) {
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
      if (!SECURED.has(`${request.method} ${schemaPath}`)) return undefined;
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

function asProblem(response: Response, error: unknown): ProblemError {
  if (error && typeof error === "object" && "type" in error && "status" in error) {
    return new ProblemError(response.status, error as Problem);
  }
  return new ProblemError(response.status, {
    type: "about:blank",
    title: response.statusText || "Error",
    status: response.status,
    detail: "The response was not a problem document.",
    request_id: response.headers.get("X-Request-ID") ?? "",
  });
}
