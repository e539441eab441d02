package server

import (
	"context"
	"sync"

	"github.com/authd/authd/server/mail"
)

// RunJobs does the background work until ctx ends: discovering the OpenID
// Connect providers, pruning stale rows and delivering the mail outbox. It
// returns once all have stopped; a send under way when ctx ends is finished
// and recorded first. While the schema is behind (AUTHD_AUTO_MIGRATE=false)
// pruning and mail wait for it, quietly; discovery needs no database.
func (s *Server) RunJobs(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.DiscoverProviders(ctx) })
	if !s.waitForSchema(ctx) {
		return
	}
	wg.Go(func() { s.prune(ctx, s.jobs.PruneEvery) })
	wg.Go(func() { s.MailWorker(s.jobs.Sender, s.jobs.Delivery).Run(ctx) })
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
