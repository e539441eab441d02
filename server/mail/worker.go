package mail

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/authd/authd/gen/db"
)

// WorkerOptions tune delivery.
type WorkerOptions struct {
	Poll        time.Duration // how often to look for due mail
	Lease       time.Duration // how long a claim lasts; a send gets half of it
	MaxAttempts int           // then the message is parked as dead
	RetryBase   time.Duration // first retry delay, doubling, capped at RetryMax
	RetryMax    time.Duration
	Now         func() time.Time
	Sealer      *Sealer // opens the bodies the server sealed
	// OnEvent, when set, hears "sent", "retried" and "dead" (for metrics).
	OnEvent func(event string)
}

// Worker drains the outbox. Any number may run against one database: each
// claims one row at a time with FOR UPDATE SKIP LOCKED and a lease twice as
// long as a send may take, and records the outcome only under that lease.
type Worker struct {
	q      func() *db.Queries
	sender Sender
	opts   WorkerOptions
	log    *slog.Logger
}

// NewWorker returns a Worker; queries gives it database access.
func NewWorker(queries func() *db.Queries, sender Sender, opts WorkerOptions, log *slog.Logger) *Worker {
	return &Worker{q: queries, sender: sender, opts: opts, log: log}
}

// Run delivers until ctx ends; a send under way when it ends is finished
// and recorded, so a shutdown does not cause a resend.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil && w.DeliverDue(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverDue sends one due message, if there is one, and reports whether it did.
func (w *Worker) DeliverDue(ctx context.Context) bool {
	now := w.opts.Now()
	lease := now.Add(w.opts.Lease)
	rows, err := w.q().ClaimMail(ctx, db.ClaimMailParams{Now: now, LeaseUntil: &lease, MaxRows: 1})
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "mail outbox: claim failed", "error", err.Error())
		}
		return false
	}
	for _, r := range rows {
		// Past this point the send and its record complete even if ctx ends.
		w.deliver(context.WithoutCancel(ctx), r, lease)
	}
	return len(rows) > 0
}

func (w *Worker) deliver(ctx context.Context, r db.ClaimMailRow, lease time.Time) {
	m := Message{ID: r.ID.String(), Kind: r.Kind, To: r.Recipient, Subject: r.Subject, Attempt: int(r.Attempts)}
	var errText, errHTML error
	if r.TextBody != nil {
		m.Text, errText = w.opts.Sealer.Open(*r.TextBody)
	}
	if r.HtmlBody != nil {
		m.HTML, errHTML = w.opts.Sealer.Open(*r.HtmlBody)
	}
	// A body no key opens is retried like a failed send, not buried: during
	// a rolling key rotation another instance, or this one restarted with
	// the new key file, may hold the key.
	err := errors.Join(errText, errHTML)
	if err == nil {
		sendCtx, cancel := context.WithTimeout(ctx, w.opts.Lease/2)
		err = w.sender.Send(sendCtx, m)
		cancel()
	}
	event, record := w.outcome(r, m, lease, err)
	if w.opts.OnEvent != nil {
		w.opts.OnEvent(event)
	}
	// A failed record (the database blipped) is retried while the lease
	// lasts; if it never lands, the lease expires and the mail is sent
	// again, which its Message-ID lets receivers recognise.
	for attempt := 0; ; attempt++ {
		err := record(ctx)
		if err == nil {
			return
		}
		wait := time.Duration(1<<min(attempt, 6)) * 100 * time.Millisecond
		if w.opts.Now().Add(wait).After(lease) {
			w.log.ErrorContext(ctx, "mail outbox: could not record the outcome", "mail_id", m.ID, "error", err.Error())
			return
		}
		time.Sleep(wait)
	}
}

// outcome names a send's result (sent, dead or retried) and returns the
// update that records it under its lease.
func (w *Worker) outcome(r db.ClaimMailRow, m Message, lease time.Time, sendErr error) (string, func(context.Context) error) {
	now := w.opts.Now()
	switch {
	case sendErr == nil:
		w.log.Info("mail sent", "mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempt)
		return "sent", func(ctx context.Context) error {
			return w.q().MarkMailSent(ctx, db.MarkMailSentParams{ID: r.ID, Now: &now, Lease: &lease})
		}
	case m.Attempt >= w.opts.MaxAttempts:
		msg := errorText(sendErr)
		// attempts is the row's attempts column: every claim counted it.
		w.log.Error("mail dead: giving up", "mail_id", m.ID, "kind", m.Kind, "attempts", m.Attempt, "max_attempts", w.opts.MaxAttempts, "error", msg)
		return "dead", func(ctx context.Context) error {
			return w.q().BuryMail(ctx, db.BuryMailParams{ID: r.ID, LastError: &msg, Lease: &lease})
		}
	default:
		msg := errorText(sendErr)
		next := now.Add(w.retryDelay(m.Attempt))
		w.log.Warn("mail not sent; will retry", "mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempt, "retry_at", next, "error", msg)
		return "retried", func(ctx context.Context) error {
			return w.q().RetryMail(ctx, db.RetryMailParams{ID: r.ID, NextAttemptAt: next, LastError: &msg, Lease: &lease})
		}
	}
}

func (w *Worker) retryDelay(attempt int) time.Duration {
	d := w.opts.RetryBase
	for i := 1; i < attempt && d < w.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.opts.RetryMax)
}

// errorText is err's message with each distinct line once, joined by "; ":
// both bodies of a mail fail to open with the same error, and errors.Join
// would log and store it twice, on two lines.
func errorText(err error) string {
	var lines []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if line != "" && !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}
