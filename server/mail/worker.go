package mail

import (
	"context"
	"log/slog"
	"time"

	"github.com/authd/authd/gen/db"
)

// WorkerOptions tune delivery.
type WorkerOptions struct {
	Poll        time.Duration // how often to look for due mail
	Batch       int           // messages claimed at once
	Lease       time.Duration // how long a claim lasts; longer than one send
	MaxAttempts int           // then the message is parked as dead
	RetryBase   time.Duration // first retry delay, doubling, capped at RetryMax
	RetryMax    time.Duration
	Now         func() time.Time
}

// Worker drains the outbox. Any number may run against one database: each
// claims rows with FOR UPDATE SKIP LOCKED and a lease.
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

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Poll)
	defer t.Stop()
	for {
		for w.DeliverDue(ctx) == w.opts.Batch {
			// a full batch: more may be waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverDue sends one batch of due messages and returns how many it claimed.
func (w *Worker) DeliverDue(ctx context.Context) int {
	now := w.opts.Now()
	lease := now.Add(w.opts.Lease)
	rows, err := w.q().ClaimMail(ctx, db.ClaimMailParams{Now: now, LeaseUntil: &lease, MaxRows: int32(w.opts.Batch)})
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "mail outbox: claim failed", "error", err.Error())
		}
		return 0
	}
	for _, r := range rows {
		w.deliver(ctx, r)
	}
	return len(rows)
}

func (w *Worker) deliver(ctx context.Context, r db.ClaimMailRow) {
	m := Message{ID: r.ID.String(), Kind: r.Kind, To: r.Recipient, Subject: r.Subject, Attempt: int(r.Attempts)}
	if r.TextBody != nil {
		m.Text = *r.TextBody
	}
	if r.HtmlBody != nil {
		m.HTML = *r.HtmlBody
	}
	sendCtx, cancel := context.WithTimeout(ctx, w.opts.Lease/2)
	err := w.sender.Send(sendCtx, m)
	cancel()
	q := w.q()
	now := w.opts.Now()
	switch {
	case err == nil:
		err = q.MarkMailSent(ctx, db.MarkMailSentParams{ID: r.ID, Now: &now})
		w.log.InfoContext(ctx, "mail sent", "mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempt)
	case m.Attempt >= w.opts.MaxAttempts:
		msg := err.Error()
		err = q.BuryMail(ctx, db.BuryMailParams{ID: r.ID, LastError: &msg})
		w.log.ErrorContext(ctx, "mail dead: giving up", "mail_id", m.ID, "kind", m.Kind, "attempts", m.Attempt, "error", msg)
	default:
		msg := err.Error()
		next := now.Add(w.retryDelay(m.Attempt))
		err = q.RetryMail(ctx, db.RetryMailParams{ID: r.ID, NextAttemptAt: next, LastError: &msg})
		w.log.WarnContext(ctx, "mail not sent; will retry", "mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempt, "retry_at", next, "error", msg)
	}
	if err != nil && ctx.Err() == nil {
		// The lease expires and another attempt follows; the send itself
		// may have happened, which the Message-ID lets receivers spot.
		w.log.WarnContext(ctx, "mail outbox: could not record the outcome", "mail_id", m.ID, "error", err.Error())
	}
}

func (w *Worker) retryDelay(attempt int) time.Duration {
	d := w.opts.RetryBase
	for i := 1; i < attempt && d < w.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.opts.RetryMax)
}
