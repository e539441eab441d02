package server

import (
	"context"
	"sync"

	"github.com/authd/authd/server/mail"
)

// RunJobs does the background work until ctx ends: pruning stale rows and
// delivering the mail outbox. It returns once both have stopped; a send
// under way when ctx ends is finished and recorded first. While the schema
// is behind (AUTHD_AUTO_MIGRATE=false) they wait for it, quietly.
func (s *Server) RunJobs(ctx context.Context) {
	if !s.waitForSchema(ctx) {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.prune(ctx, s.jobs.PruneEvery) })
	wg.Go(func() { s.MailWorker(s.jobs.Sender, s.jobs.Delivery).Run(ctx) })
	wg.Wait()
}

// MailWorker is a worker that delivers this Server's outbox through sender.
// Unless opts set them, it reads the Server's clock, opens bodies with its
// sealer and counts its outcomes in its metrics.
func (s *Server) MailWorker(sender mail.Sender, opts mail.WorkerOptions) *mail.Worker {
	if opts.Now == nil {
		opts.Now = s.now
	}
	if opts.Sealer == nil {
		opts.Sealer = s.sealer
	}
	if opts.OnEvent == nil {
		opts.OnEvent = func(e string) { s.metrics.Mail.WithLabelValues(e).Inc() }
	}
	return mail.NewWorker(s.db.Queries, sender, opts, s.log)
}
