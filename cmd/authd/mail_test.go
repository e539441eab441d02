package main

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestRun_MailRequeueSendsOneMailOfAKindPerMailbox: a month of dead notices
// to one mailbox (through +tag variants) must not go out in one burst.
func TestRun_MailRequeueSendsOneMailOfAKindPerMailbox(t *testing.T) {
	ctx, conn := migratedDatabase(t)
	queue := func(kind, to, mailbox, status string, daysAgo int) {
		t.Helper()
		_, err := conn.Exec(ctx, `INSERT INTO mail_outbox (kind, recipient, mailbox, subject, text_body, html_body, status, created_at)
			VALUES ($1, $2, $3, 's', 'sealed', 'sealed', $4, now() - make_interval(days => $5))`, kind, to, mailbox, status, daysAgo)
		if err != nil {
			t.Fatal(err)
		}
	}
	for day := 1; day <= 30; day++ {
		queue("email_change_notice", "v+"+string(rune('a'+day%26))+"@example.com", "v@example.com", "dead", day)
	}
	queue("password_reset", "v@example.com", "v@example.com", "dead", 3)
	queue("email_change_notice", "w@example.com", "w@example.com", "dead", 2)
	queue("email_change_notice", "w@example.com", "w@example.com", "sent", 1) // newer than w's dead one

	var out bytes.Buffer
	if err := run(ctx, []string{"mail", "requeue"}, &out); err != nil || out.String() != "requeued 2 dead mail(s)\ndropped 30 superseded dead mail(s)\n" {
		t.Fatalf("mail requeue: %q, %v", out.String(), err)
	}
	rows, err := conn.Query(ctx, `SELECT kind, mailbox, (now() - created_at) < interval '36 hours' FROM mail_outbox WHERE status = 'pending' ORDER BY kind`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Kind, Mailbox string
		Newest        bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{"email_change_notice", "v@example.com", true}, {"password_reset", "v@example.com", false}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("pending after requeue: %+v, want %+v", got, want)
	}
	// The superseded rest never goes out, however often requeue runs.
	out.Reset()
	if err := run(ctx, []string{"mail", "requeue"}, &out); err != nil || out.String() != "requeued 0 dead mail(s)\n" {
		t.Errorf("second requeue: %q, %v", out.String(), err)
	}
}
