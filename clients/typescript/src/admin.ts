// The admin API (tag `admin`) for two kinds of caller: a person, through
// `AuthdClient.admin` (their access token, refreshed as for every call; the
// account needs the `admin` role and a session at `aal` 2), and automation,
// through `adminClient()` (a service credential `authd_sc_...` from `authd
// admin credentials create`, sent as it is: it has no refresh and no
// expiry other than the one it was created with).
//
// This module needs no value of index.ts: the error mapping and the token
// handling are handed in, so the two modules do not load each other.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.gen.js";

export type AdminUser = components["schemas"]["AdminUser"];
export type AdminUserPage = components["schemas"]["AdminUserPage"];
export type AdminUserDetail = components["schemas"]["AdminUserDetail"];
/** A security event (`GET /users/me/events`, `userEvents()`). */
export type SecurityEvent = components["schemas"]["Event"];
export type EventPage = components["schemas"]["EventPage"];
export type UserExport = components["schemas"]["UserExport"];
/** A service credential's scope: `users:read` (the GETs), `users:write` (create, change, sessions, factors), `users:erase`. */
export type AdminScope = "users:read" | "users:write" | "users:erase";

/**
 * The admin operations, each with the scope a service credential needs for
 * it (`x-authd-admin-scope` in the contract; the tests compare the two).
 * A person with the admin role may use them all.
 */
export const ADMIN_OPERATIONS: ReadonlyMap<string, AdminScope> = new Map<string, AdminScope>([
  ["GET /admin/users", "users:read"],
  ["POST /admin/users", "users:write"],
  ["GET /admin/users/{id}", "users:read"],
  ["PATCH /admin/users/{id}", "users:write"],
  ["DELETE /admin/users/{id}", "users:erase"],
  ["DELETE /admin/users/{id}/sessions", "users:write"],
  ["DELETE /admin/users/{id}/sessions/{sid}", "users:write"],
  ["GET /admin/users/{id}/events", "users:read"],
  ["DELETE /admin/users/{id}/factors/{fid}", "users:write"],
]);

/** Which users `listUsers()` and `allUsers()` return; every filter is optional and they combine. */
export interface AdminUserFilter {
  /** Addresses starting with this text, case ignored. */
  emailPrefix?: string;
  active?: boolean;
  /** Whether the address is verified. */
  verified?: boolean;
  /** Users with this role (`admin`, or one of `AUTHD_ROLES`). */
  role?: string;
  /** Created at or after this instant. */
  createdAfter?: Date | string;
  /** Created before this instant. */
  createdBefore?: Date | string;
}

/** One page: the filter, the `next_cursor` of the page before, and the page size (1 to 200, default 50). */
export interface AdminUserPageRequest extends AdminUserFilter {
  cursor?: string;
  limit?: number;
}

/** The changes `updateUser()` makes; only those given change, at least one. */
export interface AdminUserUpdate {
  /** `false` disables the account and ends every session at once; `true` enables it again. */
  active?: boolean;
  emailVerified?: boolean;
  /** Replaces the set of roles. */
  roles?: string[];
}

/** How `adminClient()` reaches authd as automation. */
export interface AdminCredentialOptions {
  baseUrl: string;
  /** The token `authd admin credentials create` printed: `authd_sc_...`. */
  credential: string;
  fetch?: typeof globalThis.fetch;
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** Runs one call of the typed client with the caller's credentials, and answers its data or throws its problem. */
export type AdminRunner = <T>(call: (api: Client<paths>) => Promise<Result<T>>) => Promise<T>;

/** The runner of a service credential: the token on the admin operations only, a failure thrown as `toError` makes it. */
export function credentialRunner(opts: AdminCredentialOptions, toError: (response: Response, error: unknown) => Error): AdminRunner {
  const api = createClient<paths>({ baseUrl: opts.baseUrl, fetch: opts.fetch });
  api.use({
    onRequest: ({ request, schemaPath }) => {
      if (!ADMIN_OPERATIONS.has(`${request.method} ${schemaPath}`)) return undefined;
      request.headers.set("Authorization", `Bearer ${opts.credential}`);
      return request;
    },
  });
  return async <T>(call: (api: Client<paths>) => Promise<Result<T>>): Promise<T> => {
    const res = await call(api);
    if (res.error !== undefined || !res.response.ok) throw toError(res.response, res.error);
    return res.data as T;
  };
}

/**
 * The admin API. Failures are `ProblemError`s; the admin gate's refusals
 * are typed: `ForbiddenError` (no admin role), `MfaRequiredError` (an admin
 * whose session lacks a second factor: step up with a code, then call
 * again), `InsufficientScopeError` (a credential without the scope), and
 * `LastAdminError` for a change that would leave no active admin.
 */
export class AuthdAdminClient {
  /** Made by `AuthdClient.admin` or `adminClient()`, which hand in how a call is authenticated. */
  constructor(private readonly run: AdminRunner) {}

  /** One page of users in creation order; pass its `next_cursor` as `cursor` for the next (absent on the last page). */
  async listUsers(req: AdminUserPageRequest = {}): Promise<AdminUserPage> {
    const query = { ...userQuery(req), cursor: req.cursor, limit: req.limit };
    return this.run((api) => api.GET("/admin/users", { params: { query } }));
  }

  /**
   * Every page of users the filter selects, following `next_cursor` until
   * the last page. Every user that existed when the listing started comes
   * once, even with registrations meanwhile; `pageSize` is the `limit` of
   * each request.
   */
  async *userPages(filter: AdminUserFilter = {}, pageSize?: number): AsyncGenerator<AdminUser[], void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listUsers({ ...filter, cursor, limit: pageSize });
      yield page.users;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Every user the filter selects, one at a time, across pages (see `userPages`). */
  async *allUsers(filter: AdminUserFilter = {}, pageSize?: number): AsyncGenerator<AdminUser, void, undefined> {
    for await (const users of this.userPages(filter, pageSize)) yield* users;
  }

  /** The user with the metadata of their live sessions, factors, passkeys and identities (never a secret). */
  async getUser(id: string): Promise<AdminUserDetail> {
    return this.run((api) => api.GET("/admin/users/{id}", { params: { path: { id } } }));
  }

  /**
   * Creates an account without a password and mails the address an
   * invitation to set one (valid `AUTHD_INVITE_TTL`); a 409 when the address
   * has an account, a 422 for a role that is neither `admin` nor one of
   * `AUTHD_ROLES`.
   */
  async createUser(user: { email: string; roles?: string[] }): Promise<AdminUser> {
    const body = user.roles === undefined ? { email: user.email } : { email: user.email, roles: user.roles };
    return this.run((api) => api.POST("/admin/users", { body }));
  }

  /** Changes what `change` names and answers the user after it. */
  async updateUser(id: string, change: AdminUserUpdate): Promise<AdminUser> {
    const body: components["schemas"]["UpdateAdminUserRequest"] = {};
    if (change.active !== undefined) body.active = change.active;
    if (change.emailVerified !== undefined) body.email_verified = change.emailVerified;
    if (change.roles !== undefined) body.roles = change.roles;
    return this.run((api) => api.PATCH("/admin/users/{id}", { params: { path: { id } }, body }));
  }

  /** Ends every session of the user: their tokens stop working at once. */
  async revokeSessions(id: string): Promise<void> {
    await this.run((api) => api.DELETE("/admin/users/{id}/sessions", { params: { path: { id } } }));
  }

  /** Ends one session of the user (404 for an unknown or ended one, or another user's). */
  async revokeSession(id: string, sessionId: string): Promise<void> {
    await this.run((api) => api.DELETE("/admin/users/{id}/sessions/{sid}", { params: { path: { id, sid: sessionId } } }));
  }

  /** A page of the user's security events, newest first, each with its full `actor` (`admin:<id>`, `service:<id>`, `cli`). */
  async userEvents(id: string, page: { cursor?: string; limit?: number } = {}): Promise<EventPage> {
    return this.run((api) => api.GET("/admin/users/{id}/events", { params: { path: { id }, query: page } }));
  }

  /** Removes an authenticator app or a passkey of a locked-out user (an id from `getUser`); the user is mailed a notice. */
  async deleteFactor(id: string, factorId: string): Promise<void> {
    await this.run((api) => api.DELETE("/admin/users/{id}/factors/{fid}", { params: { path: { id, fid: factorId } } }));
  }

  /** Erases the user and every row that names them; it cannot be undone. Not yourself (409: use `deleteMe({ erase: true })`). */
  async eraseUser(id: string): Promise<void> {
    await this.run((api) => api.DELETE("/admin/users/{id}", { params: { path: { id } } }));
  }
}

/** The filter as the contract's query parameters. */
function userQuery(f: AdminUserFilter) {
  return {
    email_prefix: f.emailPrefix,
    active: f.active,
    verified: f.verified,
    role: f.role,
    created_after: instant(f.createdAfter),
    created_before: instant(f.createdBefore),
  };
}

function instant(t: Date | string | undefined): string | undefined {
  return t instanceof Date ? t.toISOString() : t;
}
