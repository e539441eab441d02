// The example page: every button is one or two calls of the TypeScript
// client; passkey ceremonies go through @simplewebauthn/browser. The tokens
// stay in memory, in a TokenStore that also updates the page's state line.
// A federated login leaves the page for the provider and comes back to it:
// the PKCE verifier waits in sessionStorage meanwhile, tokens are only made
// after the return.
import { startAuthentication, startRegistration } from "@simplewebauthn/browser";
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/browser";
import {
  AuthdClient,
  ProblemError,
  StepUpRequiredError,
  readOidcRedirect,
  withoutOidcRedirect,
  type MfaChallenge,
  type OidcRedirectError,
  type PasskeyOptionsJSON,
  type Provider,
  type Tokens,
  type TokenStore,
} from "../../../clients/typescript/src/index.js";

let held: Tokens | null = null;
const store: TokenStore = {
  get: () => held,
  set: (t) => {
    held = t;
    showState();
  },
};
const authd = new AuthdClient({ baseUrl: location.origin, store });
let mfaToken = "";
let enrollingFactor = "";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};
const value = (id: string): string => $<HTMLInputElement>(id).value.trim();

/** The claims of the held access token (the page only shows them; authd checks them). */
function claims(): { amr?: string[]; aal?: number } {
  const token = held?.accessToken;
  if (!token) return {};
  const b64 = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(b64)) as { amr?: string[]; aal?: number };
}

function showState(): void {
  const c = claims();
  $("state").textContent = held ? `Logged in (amr ${(c.amr ?? []).join(", ")}; aal ${c.aal ?? "?"}).` : "Logged out.";
  if (!held) {
    $("whoami").hidden = true;
    $("me-json").hidden = true;
    $("recovery").hidden = true;
    $("passkey-list").replaceChildren();
  }
}

function report(action: string, outcome: "pending" | "ok" | "error", text: string): void {
  const out = $("result");
  out.dataset.action = action;
  out.dataset.outcome = outcome;
  out.textContent = text;
}

function describe(err: unknown): string {
  if (err instanceof ProblemError) return `${err.status} ${err.problem.title}: ${err.problem.detail ?? ""}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Runs a button's action, reporting progress, success and failure in #result. */
function on(id: string, run: () => Promise<string>): void {
  $(id).addEventListener("click", async () => {
    report(id, "pending", "Working…");
    try {
      report(id, "ok", await run());
    } catch (err) {
      report(id, "error", describe(err));
    }
  });
}

/**
 * Runs an operation that may need a step-up: on StepUpRequiredError it steps
 * up (with the code field when the account has a second factor, else the
 * password) and runs it once more.
 */
async function withStepUp<T>(password: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof StepUpRequiredError)) throw err;
    const code = value("stepup-code");
    if (err.needsSecondFactor && !code) throw new Error("authd asks for a step-up with your second factor: enter a code and try again");
    await authd.stepUp(err.needsSecondFactor ? { code } : { password });
    return run();
  }
}

// authd's options are WebAuthn's JSON forms, which @simplewebauthn/browser takes as they are.
const creationOptions = (o: PasskeyOptionsJSON) => o as unknown as PublicKeyCredentialCreationOptionsJSON;
const requestOptions = (o: PasskeyOptionsJSON) => o as unknown as PublicKeyCredentialRequestOptionsJSON;

on("register", async () => {
  const res = await authd.register(value("email"), $<HTMLInputElement>("password").value);
  return res.status === 201 ? `Registered ${res.user.email}. Now log in.` : "Registration accepted: follow the mailed link.";
});

/** Shows the second step of a login (password or provider) that answered with a challenge. */
function askSecondFactor(challenge: MfaChallenge): void {
  mfaToken = challenge.mfaToken;
  $("mfa-methods").textContent = challenge.methods.join(", ");
  $("mfa-passkey").hidden = !challenge.methods.includes("passkey");
  $("mfa").hidden = false;
}

on("login", async () => {
  const res = await authd.login(value("email"), $<HTMLInputElement>("password").value);
  if (!res.mfaRequired) {
    $("mfa").hidden = true;
    return "Logged in with the password.";
  }
  askSecondFactor(res.challenge);
  return "The password was right: now the second factor.";
});

on("mfa-verify", async () => {
  const code = value("mfa-code");
  await authd.verifyMfa(mfaToken, /^\d{6}$/.test(code) ? { code } : { recoveryCode: code });
  $("mfa").hidden = true;
  await showMe();
  return "Logged in with the second factor.";
});

on("mfa-passkey", async () => {
  const options = await authd.mfaPasskeyOptions(mfaToken);
  const assertion = await startAuthentication({ optionsJSON: requestOptions(options) });
  await authd.verifyMfa(mfaToken, { passkey: assertion });
  $("mfa").hidden = true;
  await showMe();
  return "Logged in with a passkey as the second factor.";
});

// Federated login. The verifier of the PKCE pair survives the trip through
// the provider in this tab's sessionStorage; the page's own address is the
// redirect_to, so it must be on AUTHD_REDIRECT_URLS.
const VERIFIER_KEY = "authd-example-oidc-verifier";
const pageURL = new URL("./", location.href).href;

/** What each error code of the callback means for the person at the page. */
const oidcErrors: Record<string, string> = {
  access_denied: "The sign-in was cancelled at the provider.",
  provider_error: "The provider answered with an error; try again later.",
  invalid_state: "This sign-in was started in another browser, or took too long; start it again here.",
  issuer_mismatch: "The answer did not come from the provider the sign-in started with, so authd refused it.",
  exchange_failed: "authd could not redeem the provider's code; try again.",
  invalid_id_token: "The provider's ID token did not pass authd's checks.",
  email_required: "The provider did not share an email address, and authd needs one.",
  account_exists:
    "An account with this address exists, but the address is not verified on both sides: log in with its password, then link the provider from the account.",
  signup_disabled: "No account has this address, and signing up through a provider is switched off.",
  account_disabled: "This account is deactivated.",
  identity_in_use: "This identity is linked to another account.",
  provider_unavailable: "authd cannot reach the provider right now; try again later.",
};

function describeOidcError(code: OidcRedirectError): string {
  return `${oidcErrors[code] ?? "The sign-in failed."} (error=${code})`;
}

function providerButton(provider: Provider): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.id = `oidc-${provider.name}`;
  button.textContent = `Sign in with ${provider.display_name}`;
  button.disabled = !provider.available;
  if (!provider.available) button.title = "authd cannot reach this provider yet";
  button.addEventListener("click", async () => {
    report("oidc", "pending", `Going to ${provider.display_name}…`);
    try {
      const start = await authd.startOidcLogin(provider, pageURL);
      sessionStorage.setItem(VERIFIER_KEY, start.verifier);
      location.assign(start.authorizeUrl);
    } catch (err) {
      report("oidc", "error", describe(err));
    }
  });
  return button;
}

async function listProviders(): Promise<void> {
  try {
    const providers = await authd.providers();
    $("providers").replaceChildren(...providers.map(providerButton));
    $("providers-note").textContent = providers.length
      ? "Or sign in with an OpenID Connect provider:"
      : "No OpenID Connect provider is configured (AUTHD_OIDC_PROVIDERS).";
  } catch (err) {
    $("providers-note").textContent = `The providers could not be listed: ${describe(err)}`;
  }
}

/** Back from the provider: exchange the one-time code, or say what went wrong. */
async function finishFederatedLogin(): Promise<void> {
  const back = readOidcRedirect(location.href);
  if (!back) return;
  // The code is single use and the error should not show again on reload.
  history.replaceState(null, "", withoutOidcRedirect(location.href));
  const verifier = sessionStorage.getItem(VERIFIER_KEY);
  sessionStorage.removeItem(VERIFIER_KEY);
  if ("error" in back) {
    report("oidc", "error", describeOidcError(back.error));
    return;
  }
  if (back.linked) {
    report("oidc", "error", "This page does not link identities (its tokens do not survive the trip to the provider).");
    return;
  }
  if (!verifier) {
    report("oidc", "error", "This tab did not start the sign-in (no PKCE verifier kept): start it again here.");
    return;
  }
  report("oidc", "pending", "Exchanging the provider's code…");
  try {
    const res = await authd.finishOidcLogin(back.code, verifier);
    if (res.mfaRequired) {
      askSecondFactor(res.challenge);
      report("oidc", "ok", "The provider vouched for you: now the second factor.");
      return;
    }
    await showMe();
    report("oidc", "ok", "Logged in with the provider.");
  } catch (err) {
    report("oidc", "error", describe(err));
  }
}

on("totp-start", async () => {
  const password = $<HTMLInputElement>("totp-password").value;
  const enrolment = await withStepUp(password, () => authd.startTotpEnrollment(password, "Authenticator app"));
  enrollingFactor = enrolment.factor.id;
  $<HTMLImageElement>("totp-qr").src = enrolment.qr_code;
  $("totp-secret").textContent = enrolment.secret;
  $("totp-enrolment").hidden = false;
  return "Scan the QR code, then enter the app's first code.";
});

on("totp-activate", async () => {
  const activated = await authd.verifyFactor(enrollingFactor, value("totp-code"));
  $("totp-enrolment").hidden = true;
  showRecoveryCodes(activated.recovery_codes);
  return "The authenticator app is active: the next password login asks for its code.";
});

function showRecoveryCodes(codes: string[] | undefined): void {
  if (!codes) return;
  $("recovery-codes").textContent = codes.join("\n");
  $("recovery").hidden = false;
}

on("passkey-add", async () => {
  const password = $<HTMLInputElement>("passkey-password").value;
  const options = await withStepUp(password, () => authd.passkeyRegistrationOptions(password));
  const attestation = await startRegistration({ optionsJSON: creationOptions(options) });
  const added = await authd.registerPasskey(attestation, value("passkey-name") || undefined);
  showRecoveryCodes(added.recovery_codes);
  await listPasskeys();
  return `Passkey "${added.passkey.friendly_name}" added: log out and log in with it.`;
});

async function listPasskeys(): Promise<void> {
  const list = await authd.listPasskeys();
  $("passkey-list").replaceChildren(
    ...list.passkeys.map((p) => {
      const li = document.createElement("li");
      li.textContent = `${p.friendly_name} (added ${new Date(p.created_at).toLocaleString()})`;
      return li;
    }),
  );
}

on("logout", async () => {
  if (!held) return "Already logged out.";
  await authd.logout();
  return "Logged out.";
});

on("passkey-login", async () => {
  const options = await authd.passkeyLoginOptions();
  const assertion = await startAuthentication({ optionsJSON: requestOptions(options) });
  await authd.loginWithPasskey(assertion);
  await showMe();
  return "Logged in with a passkey.";
});

async function showMe(): Promise<void> {
  const me = await authd.me();
  const c = claims();
  $("me-email").textContent = me.email;
  $("me-amr").textContent = (c.amr ?? []).join(", ");
  $("me-aal").textContent = String(c.aal ?? "");
  $("me-json").textContent = JSON.stringify(me, null, 2);
  $("whoami").hidden = false;
  $("me-json").hidden = false;
  await listPasskeys();
}

on("me", async () => {
  await showMe();
  return "GET /users/me answered.";
});

showState();
void listProviders();
void finishFederatedLogin();
