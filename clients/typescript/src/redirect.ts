// What authd's callback puts on the application's redirect_to: a one-time
// code (and `linked=1` when it ends a link), or an error code and nothing
// else. Reading it is the application's first step after the browser returns.

/**
 * The `error` values of the callback (openapi.yaml, oidcCallback). The list
 * is open: a later authd may add codes, so handle unknown strings too.
 */
export type OidcRedirectError =
  | "access_denied"
  | "provider_error"
  | "invalid_state"
  | "issuer_mismatch"
  | "exchange_failed"
  | "invalid_id_token"
  | "email_required"
  | "account_exists"
  | "signup_disabled"
  | "account_disabled"
  | "identity_in_use"
  | "provider_unavailable"
  | (string & {});

/** The outcome on redirect_to: a code for `finishOidcLogin` (or, `linked`, for `completeIdentityLink`), or an error code. */
export type OidcRedirect = { code: string; linked: boolean } | { error: OidcRedirectError };

/**
 * Reads authd's answer from the URL the browser came back to (say
 * `location.href`); null when it carries neither `code` nor `error`, so a
 * page can call it on every load. Remove both from the address bar
 * afterwards (`history.replaceState`): the code is single use, and an
 * error should not show again on reload.
 */
export function readOidcRedirect(url: string | URL): OidcRedirect | null {
  const params = new URL(url).searchParams;
  const error = params.get("error");
  if (error !== null) return { error };
  const code = params.get("code");
  if (code) return { code, linked: params.get("linked") === "1" };
  return null;
}

/** The URL without what authd added (`code`, `linked`, `error`), for `history.replaceState`. */
export function withoutOidcRedirect(url: string | URL): string {
  const clean = new URL(url);
  for (const name of ["code", "linked", "error"]) clean.searchParams.delete(name);
  return clean.toString();
}
