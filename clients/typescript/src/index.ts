// A small wrapper around the generated openapi-fetch client that keeps the
// token pair: it logs in, sends the access token, refreshes it shortly before
// it expires or once after a 401, with a single refresh in flight however
// many calls are waiting (two refreshes of one token would trip authd's reuse
// detection and end the session), and logs out.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.gen.js";

export type { components, paths };
export type Problem = components["schemas"]["Problem"];
export type User = components["schemas"]["User"];
export type TokenPair = components["schemas"]["TokenPair"];
export type LogoutScope = "current" | "others" | "all";

/** The tokens the wrapper keeps, with the access token's expiry in epoch ms. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  accessExpiresAt: number;
}

/** Where tokens live between calls; in memory unless you pass your own. */
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

/** Operations that must never carry (or wait for) the access token. */
const PUBLIC_PATHS = new Set(["/auth/login", "/auth/register", "/auth/refresh-token"]);

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

  async register(email: string, password: string): Promise<User> {
    const { data, error, response } = await this.api.POST("/auth/register", { body: { email, password } });
    if (response.status !== 201 || !data || !("id" in data)) throw asProblem(response, error);
    return data;
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

  /** Ends the current session (or the others, or all) and forgets the tokens. */
  async logout(scope: LogoutScope = "current"): Promise<void> {
    await this.authed(() => this.api.POST("/auth/logout", { params: { query: { scope } } }));
    if (scope !== "others") this.store.set(null);
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

  /** Rotates the token pair; concurrent callers share one request. */
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
      if (PUBLIC_PATHS.has(schemaPath)) return undefined;
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
