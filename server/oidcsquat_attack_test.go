package server_test

import (
	"net/http"
	"testing"

	"github.com/authd/authd/server/testkit"
)

// A squatter claims an address through a provider that does not verify
// addresses (signup creates an unverified account); the owner takes it back
// with a password reset, which proves the address. Nothing the squatter
// attached before may log in afterwards.

// TestFederatedAttack_ResetEndsASquatterWhoseIdentityLaterAssertsAVerifiedAddress:
// a squatter's identity, after asserting another (verified) address at the
// provider on a later login, is still removed by the owner's password
// reset: it was linked before the address was proved. With
// AUTHD_REQUIRE_VERIFIED_EMAIL on the squatter never needs a session.
func TestFederatedAttack_ResetEndsASquatterWhoseIdentityLaterAssertsAVerifiedAddress(t *testing.T) {
	f := newFed(t, fedSetup{appOptions: []testkit.Option{testkit.IsolatedDatabase(t), requireVerified}})
	victim := testkit.UniqueEmail()

	// 1. The squatter asserts the victim's address, unverified (a provider
	// that lets users type any address).
	atk := f.idpUser(victim, false)
	p := newPKCE()
	q := f.login(f.browser(), atk, p)
	f.exchange(q.Get("code"), p.verifier)

	// 2. The squatter changes its address at the provider to one it
	// verified, and logs in once more (the callback alone is enough).
	atk.Email, atk.EmailVerified = "attacker-"+testkit.UniqueEmail(), true
	f.idp.SetUser(atk)
	p = newPKCE()
	q = f.login(f.browser(), atk, p)
	f.exchange(q.Get("code"), p.verifier)

	// 3. The owner takes the account back through a reset.
	resetPassword(t, f.app, victim, "Brand-New-Horse-5")
	if n := f.count("SELECT count(*) FROM identities i JOIN users u ON u.id = i.user_id WHERE u.email = $1", victim); n != 0 {
		t.Errorf("%d identities of the owner's account after the reset, want 0", n)
	}

	// 4. The squatter logs in to the owner's (now verified) account.
	p = newPKCE()
	q = f.login(f.browser(), atk, p)
	r := f.exchange(q.Get("code"), p.verifier)
	if r.JSON200 != nil {
		// The identity is new to authd now: its own verified address makes
		// an account of its own, never the owner's.
		if me := f.me(r.JSON200.AccessToken); me.Email == victim {
			t.Errorf("after the owner's reset the squatter logged in to the owner's account %s", me.Email)
		}
	}
}

// TestFederatedAttack_ResetEndsASecondIdentityTheSquatterLinked: the same
// through the link flow: the squatter's session links a second identity
// with a verified address of its own; the owner's reset removes it.
func TestFederatedAttack_ResetEndsASecondIdentityTheSquatterLinked(t *testing.T) {
	f := newFed(t, fedSetup{appOptions: []testkit.Option{testkit.IsolatedDatabase(t)}})
	victim := testkit.UniqueEmail()
	atk := f.idpUser(victim, false)
	squat := f.logIn(atk)

	atk2 := f.idpUser("attacker-"+testkit.UniqueEmail(), true)
	p := newPKCE()
	start := f.startLink(squat.AccessToken, fedProvider, linkBody(p, ""))
	if start.JSON200 == nil {
		t.Fatalf("start link: %d %s", start.StatusCode(), start.Body)
	}
	q := f.browser().LoginFlow(t, start.JSON200.AuthorizeUrl, fedRedirect, atk2.Username, atk2.Password).Query()
	if r := f.completeLink(squat.AccessToken, q.Get("code"), p.verifier); r.JSON201 == nil {
		t.Fatalf("complete link: %d %s", r.StatusCode(), r.Body)
	}

	resetPassword(t, f.app, victim, "Brand-New-Horse-5")
	if meStatus(t, f.app, squat.AccessToken) != http.StatusUnauthorized {
		t.Error("the squatter's session survived the reset")
	}
	p = newPKCE()
	q = f.login(f.browser(), atk2, p)
	if r := f.exchange(q.Get("code"), p.verifier); r.JSON200 != nil {
		if me := f.me(r.JSON200.AccessToken); me.Email == victim {
			t.Errorf("after the owner's reset the squatter's second identity logged in to the owner's account %s", me.Email)
		}
	}
}

// TestFederatedAttack_ACodeIssuedBeforeAResetDiesWithItsIdentity: a
// one-time login code issued just before a reset that removes the identity
// it was issued to no longer logs in.
func TestFederatedAttack_ACodeIssuedBeforeAResetDiesWithItsIdentity(t *testing.T) {
	f := newFed(t, fedSetup{appOptions: []testkit.Option{testkit.IsolatedDatabase(t)}})
	victim := testkit.UniqueEmail()
	atk := f.idpUser(victim, false)
	f.logIn(atk) // the squat

	p := newPKCE()
	held := f.login(f.browser(), atk, p).Get("code") // minted just before the reset

	resetPassword(t, f.app, victim, "Brand-New-Horse-5")
	if r := f.exchange(held, p.verifier); r.JSON200 != nil {
		t.Errorf("a code minted before the reset logged in after it, to %s", f.me(r.JSON200.AccessToken).Email)
	}
}

// TestFederatedAttack_ACodeIssuedBeforeAnUnlinkDiesWithItsIdentity: the
// same with an unlink: a code the identity got a moment before it was
// unlinked no longer logs in.
func TestFederatedAttack_ACodeIssuedBeforeAnUnlinkDiesWithItsIdentity(t *testing.T) {
	f := newFed(t, fedSetup{})
	owner, pair := f.passwordAccount(true)
	u := f.idpUser(owner.Email, true) // auto-linked
	f.logIn(u)
	p := newPKCE()
	held := f.login(f.browser(), u, p).Get("code")

	ids := listIdentities(t, f.app, pair.AccessToken)
	pw := testkit.Password
	if r := deleteIdentity(t, f.app, pair.AccessToken, ids[0].Id, &pw); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("unlink: %d %s", r.StatusCode(), r.Body)
	}
	if r := f.exchange(held, p.verifier); r.JSON200 != nil {
		t.Errorf("a code minted before the unlink logged in after it")
	}
}

// REVIEW-1c: the squatter's federated session adds a passkey (no password
// asked: the account has none); the owner's reset keeps it.
func TestFederatedAttack_ResetEndsAPasskeyTheSquatterAdded(t *testing.T) {
	f := newFed(t, fedSetup{appOptions: []testkit.Option{testkit.IsolatedDatabase(t)}})
	victim := testkit.UniqueEmail()
	squat := f.logIn(f.idpUser(victim, false))
	auth := testkit.NewAuthenticator()
	addPasskeyWithout(t, f.app, squat.AccessToken, auth)
	resetPassword(t, f.app, victim, "Brand-New-Horse-5")
	if r := passkeyLogin(t, f.app, auth.Assert(t, loginOptions(t, f.app), testkit.PasskeyOrigin)); r.JSON200 != nil {
		t.Errorf("after the owner's reset the squatter's passkey logged in to %s", f.me(r.JSON200.AccessToken).Email)
	}
}
