// Starts a real authd (the binary in AUTHD_BIN, built by `make test`) on a
// free port against a throwaway database, and stops it afterwards.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createHmac, randomBytes } from "node:crypto";

export interface Authd {
  url: string;
  /** Runs `authd ARGS...` (`admin grant EMAIL`, say) with this authd's settings and database; its stdout. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts authd; env adds to (or overrides) the test settings. */
export async function startAuthd(env: Record<string, string> = {}): Promise<Authd> {
  const bin = process.env.AUTHD_BIN ?? "../../bin/authd";
  const base = new URL(process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable");
  const dbName = "authd_test_ts_" + randomBytes(4).toString("hex");
  const dbURL = new URL(base);
  dbURL.pathname = "/" + dbName;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const settings = {
    ...process.env,
    AUTHD_ENV: "development",
    AUTHD_ADDR: `127.0.0.1:${port}`,
    DATABASE_URL: dbURL.toString(),
    AUTHD_ACCESS_TOKEN_TTL: "1m",
    AUTHD_LOG_LEVEL: "error",
    AUTHD_ARGON2_MEMORY_KIB: "8192",
    AUTHD_ARGON2_TIME: "1",
    AUTHD_RATE_LIMIT_REGISTER: "1000/1h", // the tests register many users from one address
    ...env,
  };
  const proc: ChildProcess = spawn(bin, ["serve"], { env: settings, stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", resolve));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(url + "/readiness");
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null) throw new Error(`authd exited with ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error("authd did not become ready in 30 s");
    await new Promise((r) => setTimeout(r, 50)); // polling for start-up
  }
  return {
    url,
    cli: (...args) => execFileSync(bin, args, { env: settings, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    async stop() {
      proc.kill("SIGTERM");
      await exited;
      try {
        const admin = new URL(base);
        execFileSync("psql", [admin.toString(), "-q", "-c", `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`], { stdio: "ignore" });
      } catch {
        // psql missing: the database stays, named authd_test_ts_*
      }
    },
  };
}

/**
 * A fetch that counts requests by path. An intercept may answer a request
 * itself (or hold it, or fail it); returning undefined forwards it to authd.
 */
export function countingFetch(
  intercept?: (req: Request, forward: () => Promise<Response>) => Promise<Response> | undefined,
): { fetch: typeof fetch; count(path: string): number } {
  const counts = new Map<string, number>();
  return {
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = input instanceof Request ? input : new Request(input, init);
      const path = new URL(req.url).pathname;
      counts.set(path, (counts.get(path) ?? 0) + 1);
      return intercept?.(req, () => fetch(req)) ?? fetch(req);
    },
    count: (path: string) => counts.get(path) ?? 0,
  };
}

/** A promise with its resolve function, to hold a request until a test says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A 503 problem as authd answers it when a dependency is down. */
export function unavailable(): Response {
  const problem = { type: "about:blank", title: "Service Unavailable", status: 503, detail: "down", request_id: "test" };
  return new Response(JSON.stringify(problem), { status: 503, headers: { "Content-Type": "application/problem+json" } });
}

let n = 0;
export function uniqueEmail(): string {
  return `ts-${Date.now().toString(36)}-${n++}-${randomBytes(3).toString("hex")}@example.com`;
}

/** Decodes RFC 4648 base32 (upper case, padding optional), as TOTP secrets are written. */
function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 30-second TOTP time step of an instant in epoch ms. */
export function totpStep(epochMs: number = Date.now()): number {
  return Math.floor(epochMs / 30_000);
}

/** The RFC 6238 code (HMAC-SHA1, 6 digits) of a base32 secret for a time step. */
export function totpCode(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const n = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(n % 1_000_000).padStart(6, "0");
}
