package testkit

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/token"
)

// methodFederated is the amr of a session a provider's login made (RFC 8176
// has no value for it; authd uses "fed").
const methodFederated = "fed"

// FederatedUser creates the account a first federated login creates
// (CreateFederatedUser): no password, the address verified only when
// verified says the provider verified it. It returns the user's id.
func (a *App) FederatedUser(t T, email string, verified bool) uuid.UUID {
	t.Helper()
	now := a.Clock.Now()
	var at *time.Time
	if verified {
		at = &now
	}
	u, err := a.Deps.DB.Queries().CreateFederatedUser(context.Background(), db.CreateFederatedUserParams{Email: email, Now: now, EmailVerifiedAt: at})
	if err != nil {
		t.Fatalf("create federated user %s: %v", email, err)
	}
	return u.ID
}

// LinkIdentity links the provider identity (provider, subject) to the user
// as the flow does (CreateIdentity), with the address the provider asserted
// and whether it said it verified it, and returns the identity's id.
func (a *App) LinkIdentity(t T, userID uuid.UUID, provider, subject, email string, verified bool) uuid.UUID {
	t.Helper()
	i, err := a.Deps.DB.Queries().CreateIdentity(context.Background(), db.CreateIdentityParams{
		UserID: userID, Provider: provider, Subject: subject, Email: email, EmailVerified: verified, Now: a.Clock.Now(),
	})
	if err != nil {
		t.Fatalf("link %s/%s: %v (linked already?)", provider, subject, err)
	}
	return i.ID
}

// FederatedSession is the token pair of a new session of the user, as a
// federated login ends without a second factor: amr ["fed"], auth_time
// now (fresh enough for step-up). It is made directly in the database with
// the app's own keys, without the provider's round trip and without the
// federated_login event, for tests of what such a session may do.
func (a *App) FederatedSession(t T, userID uuid.UUID) client.TokenPair {
	t.Helper()
	ctx, now := context.Background(), a.Clock.Now()
	refresh := token.NewOpaque()
	var sess db.Session
	err := a.Deps.DB.InTx(ctx, func(q *db.Queries) (err error) {
		sess, err = q.CreateSession(ctx, db.CreateSessionParams{
			UserID: userID, Now: now, ExpiresAt: now.Add(a.Deps.SessionTTL), UserAgent: "testkit", Ip: "127.0.0.1", Amr: []string{methodFederated},
		})
		if err != nil {
			return err
		}
		return q.CreateRefreshToken(ctx, db.CreateRefreshTokenParams{SessionID: sess.ID, TokenHash: token.HashOpaque(refresh), Now: now})
	})
	if err != nil {
		t.Fatalf("federated session: %v", err)
	}
	o := a.Deps.Token
	access, err := token.NewAuthority(a.Deps.Keys, o.Issuer, o.Audience, o.AccessTTL, o.Leeway, a.Clock.Now).
		Issue(token.Claims{UserID: userID, SessionID: sess.ID, AMR: sess.Amr, AuthTime: sess.AuthTime})
	if err != nil {
		t.Fatal(err)
	}
	return client.TokenPair{
		AccessToken: access, TokenType: client.Bearer, ExpiresIn: int(o.AccessTTL.Seconds()),
		RefreshToken: refresh, RefreshExpiresIn: int(a.Deps.SessionTTL.Seconds()),
	}
}
