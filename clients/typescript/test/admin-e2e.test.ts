// The admin API, export and erasure through the client against a live
// authd: admins are made and credentials created with the `authd admin`
// command line, as an operator does.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  ADMIN_OPERATIONS,
  AuthdClient,
  ForbiddenError,
  InsufficientScopeError,
  LastAdminError,
  MfaRequiredError,
  ProblemError,
  adminClient,
} from "../src/index.js";
import { startAuthd, totpCode, totpStep, uniqueEmail, type Authd } from "./harness.js";

const PASSWORD = "Correct-Horse-7";
let authd: Authd;

before(async () => {
  authd = await startAuthd();
});
after(async () => {
  await authd?.stop();
});

/** A new service credential's token and id, as `authd admin credentials create` prints and names it. */
function credential(scopes: string): { name: string; token: string; id: string } {
  const name = "ts-" + randomBytes(4).toString("hex");
  const token = authd.cli("admin", "credentials", "create", "--name", name, "--scopes", scopes).trim();
  assert.match(token, /^authd_sc_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/, "the token alone on stdout");
  const hex = token.slice("authd_sc_".length, "authd_sc_".length + 32);
  const id = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  return { name, token, id };
}

async function member(email: string): Promise<{ client: AuthdClient; id: string }> {
  const client = new AuthdClient({ baseUrl: authd.url });
  const registered = await client.register(email, PASSWORD);
  assert.equal(registered.status, 201);
  await client.login(email, PASSWORD);
  return { client, id: registered.status === 201 ? registered.user.id : "" };
}

function claims(accessToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
}

test("the client's admin operations and scopes are the contract's", async () => {
  type Op = { "x-authd-admin-scope"?: string };
  const spec = (await (await fetch(authd.url + "/openapi.json")).json()) as { paths: Record<string, Record<string, Op>> };
  const marked = Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([, op]) => typeof op === "object" && op !== null && op["x-authd-admin-scope"] !== undefined)
      .map(([method, op]) => [`${method.toUpperCase()} ${path}`, op["x-authd-admin-scope"]] as const),
  );
  assert.deepEqual(new Map(marked), ADMIN_OPERATIONS);
});

test("a service credential invites, lists, inspects, disables and erases users", async () => {
  const cred = credential("users:read,users:write,users:erase");
  const admin = adminClient({ baseUrl: authd.url, credential: cred.token });
  const prefix = `ts-admin-${randomBytes(4).toString("hex")}-`;

  const invited = await admin.createUser({ email: `${prefix}0@example.com` });
  assert.equal(invited.has_password, false);
  assert.deepEqual(invited.roles, []);
  const members = [];
  for (const n of [1, 2, 3, 4]) members.push(await member(`${prefix}${n}@example.com`));

  // Every page, two users at a time, each user once, in creation order.
  const listed: string[] = [];
  for await (const u of admin.allUsers({ emailPrefix: prefix }, 2)) listed.push(u.email);
  assert.deepEqual(listed, [0, 1, 2, 3, 4].map((n) => `${prefix}${n}@example.com`));
  const first = await admin.listUsers({ emailPrefix: prefix, limit: 2 });
  assert.equal(first.users.length, 2);
  assert.ok(first.next_cursor);

  const m = members[0]!;
  const detail = await admin.getUser(m.id);
  assert.equal(detail.user.email, `${prefix}1@example.com`);
  assert.equal(detail.sessions.length, 1);

  // Ending the sessions ends the member's access: the refresh fails too.
  await admin.revokeSessions(m.id);
  await assert.rejects(m.client.me(), (err: unknown) => err instanceof ProblemError && err.status === 401);
  const events = await admin.userEvents(m.id, { limit: 5 });
  const revoked = events.events.find((e) => e.kind === "admin_sessions_revoked");
  assert.equal(revoked?.actor, `service:${cred.id}`, "the admin API names the credential");

  const disabled = await admin.updateUser(members[1]!.id, { active: false });
  assert.equal(disabled.is_active, false);
  await assert.rejects(members[1]!.client.me(), (err: unknown) => err instanceof ProblemError && err.status === 401);
  const inactive = await admin.listUsers({ emailPrefix: prefix, active: false });
  assert.deepEqual(
    inactive.users.map((u) => u.id),
    [members[1]!.id],
  );

  await admin.eraseUser(invited.id);
  await assert.rejects(admin.getUser(invited.id), (err: unknown) => err instanceof ProblemError && err.status === 404);

  // A read-only credential reads and may not write; a revoked one is refused.
  const reader = credential("users:read");
  const readOnly = adminClient({ baseUrl: authd.url, credential: reader.token });
  assert.equal((await readOnly.getUser(m.id)).user.id, m.id);
  await assert.rejects(readOnly.createUser({ email: `${prefix}5@example.com` }), InsufficientScopeError);
  authd.cli("admin", "credentials", "revoke", reader.name);
  await assert.rejects(readOnly.getUser(m.id), (err: unknown) => err instanceof ProblemError && err.status === 401);
});

test("a person administers with the admin role and a second factor, and cannot remove the last admin", async () => {
  const email = uniqueEmail();
  const { client: owner, id } = await member(email);
  await assert.rejects(owner.admin.listUsers(), ForbiddenError);

  assert.match(authd.cli("admin", "grant", email), /granted admin/);
  await assert.rejects(owner.admin.listUsers(), MfaRequiredError);

  // A second factor, then a step-up with it: the session is at aal 2.
  const enrolment = await owner.startTotpEnrollment(PASSWORD, "Phone");
  const step = totpStep();
  await owner.verifyFactor(enrolment.factor.id, totpCode(enrolment.secret, step));
  await owner.stepUp({ code: totpCode(enrolment.secret, step + 1) });
  const c = claims(owner.tokens!.accessToken);
  assert.equal(c.aal, 2);
  assert.deepEqual(c.roles, ["admin"], "the token carries the roles");

  const admins = await owner.admin.listUsers({ role: "admin" });
  assert.deepEqual(
    admins.users.map((u) => u.email),
    [email],
  );
  const events = await owner.admin.userEvents(id);
  assert.equal(events.events.find((e) => e.kind === "role_granted")?.actor, "cli");

  await assert.rejects(owner.admin.updateUser(id, { roles: [] }), LastAdminError);
  await assert.rejects(owner.admin.updateUser(id, { active: false }), LastAdminError);
  await assert.rejects(owner.deleteMe({ erase: true, currentPassword: PASSWORD }), LastAdminError);
  await assert.rejects(owner.admin.eraseUser(id), (err: unknown) => {
    assert.ok(err instanceof ProblemError && !(err instanceof LastAdminError));
    assert.equal(err.status, 409);
    assert.match(err.problem.type, /\/conflict$/);
    return true;
  });
  assert.throws(() => authd.cli("admin", "revoke", email), /last active admin/);
  assert.deepEqual((await owner.admin.getUser(id)).user.roles, ["admin"]);
});

test("a user exports their data, then erases their account and the address is free again", async () => {
  const email = uniqueEmail();
  const { client, id } = await member(email);
  const exported = await client.exportMe();
  assert.equal(exported.user.id, id);
  assert.equal(exported.user.email, email);
  assert.deepEqual(exported.roles, []);
  assert.equal(exported.sessions.length, 1);
  assert.deepEqual(exported.sessions[0]!.amr, ["pwd"]);
  const kinds = exported.events.map((e) => e.kind);
  assert.ok(kinds.includes("registered") && kinds.includes("login_succeeded"), kinds.join(","));

  await client.deleteMe({ erase: true, currentPassword: PASSWORD });
  assert.equal(client.tokens, null);
  const again = new AuthdClient({ baseUrl: authd.url });
  await assert.rejects(again.login(email, PASSWORD), (err: unknown) => err instanceof ProblemError && err.status === 401);
  const registered = await again.register(email, PASSWORD);
  assert.equal(registered.status, 201);
  assert.notEqual(registered.status === 201 ? registered.user.id : id, id);
});
