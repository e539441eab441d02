// Runnable examples for the Go client, gen/client (generated from
// openapi.yaml). They live outside gen/ so that gen/ holds only generated
// code and testing it does not build the whole service; `go test ./...`
// runs them against a real authd with a fresh database.
package client_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/mfa"
	"github.com/authd/authd/server/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// serverURL is a real authd with a fresh database, for the examples to call.
var serverURL = sync.OnceValue(func() string {
	return testkit.NewApp(&testkit.MainT{}, testkit.FastHashing).URL
})

// bearer sends an access token with a request.
func bearer(token string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// Register, log in, and call an authenticated operation with the access
// token added by a request editor.
func Example() {
	ctx := context.Background()
	c, err := client.NewClientWithResponses(serverURL())
	if err != nil {
		panic(err)
	}
	if _, err := c.RegisterWithResponse(ctx, client.RegisterRequest{Email: "ada@example.com", Password: "Correct-Horse-7"}); err != nil {
		panic(err)
	}
	login, err := c.LoginWithResponse(ctx, client.LoginRequest{Email: "ada@example.com", Password: "Correct-Horse-7"})
	if err != nil {
		panic(err)
	}
	me, err := c.GetMeWithResponse(ctx, bearer(login.JSON200.AccessToken))
	if err != nil {
		panic(err)
	}
	fmt.Println(me.StatusCode(), me.JSON200.Email)
	// Output: 200 ada@example.com
}

// Every editor can also be set once for all calls of a client.
func ExampleWithRequestEditorFn() {
	ctx := context.Background()
	anon, _ := client.NewClientWithResponses(serverURL())
	_, _ = anon.RegisterWithResponse(ctx, client.RegisterRequest{Email: "grace@example.com", Password: "Correct-Horse-7"})
	login, _ := anon.LoginWithResponse(ctx, client.LoginRequest{Email: "grace@example.com", Password: "Correct-Horse-7"})

	authed, _ := client.NewClientWithResponses(serverURL(), client.WithRequestEditorFn(bearer(login.JSON200.AccessToken)))
	me, _ := authed.GetMeWithResponse(ctx)
	fmt.Println(me.JSON200.Email)
	// Output: grace@example.com
}

// Failures come back as typed RFC 9457 problems, one field per documented
// status; compare the problem's type, not its title.
func ExampleClientWithResponses_LoginWithResponse_problem() {
	ctx := context.Background()
	c, _ := client.NewClientWithResponses(serverURL())
	resp, err := c.LoginWithResponse(ctx, client.LoginRequest{Email: "nobody@example.com", Password: "Wrong-Horse-8"})
	if err != nil {
		panic(err) // transport errors only; problems are not Go errors
	}
	switch {
	case resp.JSON200 != nil:
		fmt.Println("logged in")
	case resp.ApplicationproblemJSON401 != nil:
		p := resp.ApplicationproblemJSON401
		fmt.Println(p.Status, p.Type)
	case resp.ApplicationproblemJSON429 != nil:
		fmt.Println("slow down; Retry-After", resp.HTTPResponse.Header.Get("Retry-After"))
	}
	// Output: 401 https://authd.dev/problems/invalid-credentials
}

// A login to an account with a second factor answers 202 with a challenge
// instead of tokens; POST /auth/mfa/verify with the authenticator app's code
// completes it. (The example computes the codes an app would show.)
func ExampleClientWithResponses_VerifyMfaWithResponse() {
	ctx := context.Background()
	c, _ := client.NewClientWithResponses(serverURL())
	creds := client.LoginRequest{Email: "hedy@example.com", Password: "Correct-Horse-7"}
	_, _ = c.RegisterWithResponse(ctx, client.RegisterRequest(creds))
	first, _ := c.LoginWithResponse(ctx, creds)

	// Enrol an authenticator app: show enrolment.JSON201.QrCode, then verify its first code.
	enrolment, _ := c.StartTotpEnrollmentWithResponse(ctx, client.StartTotpRequest{CurrentPassword: &creds.Password}, bearer(first.JSON200.AccessToken))
	secret := enrolment.JSON201.Secret
	now := time.Now()
	code, _ := mfa.Code(secret, now)
	activated, _ := c.VerifyFactorWithResponse(ctx, enrolment.JSON201.Factor.Id, client.CodeRequest{Code: code},
		bearer(first.JSON200.AccessToken))
	fmt.Println("recovery codes:", len(*activated.JSON200.RecoveryCodes))

	login, _ := c.LoginWithResponse(ctx, creds)
	switch {
	case login.JSON200 != nil:
		fmt.Println("logged in without a second factor")
	case login.JSON202 != nil:
		fmt.Println(login.StatusCode(), login.JSON202.Methods)
		// A code is accepted once: the enrolment spent this step's, so use the next one.
		next, _ := mfa.Code(secret, now.Add(30*time.Second))
		done, _ := c.VerifyMfaWithResponse(ctx, client.MfaVerifyRequest{MfaToken: login.JSON202.MfaToken, Code: &next})
		me, _ := c.GetMeWithResponse(ctx, bearer(done.JSON200.AccessToken))
		fmt.Println(done.StatusCode(), me.JSON200.Email)
	}
	// Output:
	// recovery codes: 10
	// 202 [totp recovery_code]
	// 200 hedy@example.com
}
