// PKCE (RFC 7636, method S256) with WebCrypto only, so the same code runs in
// browsers, Node.js 20+, Deno and workers. authd's federated login proves the
// application that started it with such a pair: the challenge goes into the
// authorize URL, the verifier stays with the application until the one-time
// code comes back.

/** An RFC 7636 pair: send `challenge`, keep `verifier` for the code exchange. */
export interface PkcePair {
  /** 43 characters of the unreserved alphabet (32 random bytes, base64url). */
  verifier: string;
  /** BASE64URL(SHA-256(verifier)), 43 characters. */
  challenge: string;
}

/** A fresh pair from 32 bytes of `crypto.getRandomValues` (256 bits, as RFC 7636 section 7.1 recommends). */
export async function createPkcePair(): Promise<PkcePair> {
  const verifier = base64url(webCrypto().getRandomValues(new Uint8Array(32)));
  return { verifier, challenge: await pkceChallenge(verifier) };
}

/** The S256 challenge of a verifier: BASE64URL(SHA-256(ASCII(verifier))), no padding. */
export async function pkceChallenge(verifier: string): Promise<string> {
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) {
    throw new RangeError("a PKCE verifier is 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
  }
  const digest = await webCrypto().subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function webCrypto(): Crypto {
  const c = globalThis.crypto;
  if (!c?.subtle || !c.getRandomValues) throw new Error("WebCrypto (globalThis.crypto.subtle) is not available");
  return c;
}

/** RFC 4648 section 5, without padding. */
function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
