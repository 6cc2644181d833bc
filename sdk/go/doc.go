// Package pdfqa is the Go client of a pdfqa mesh: PDF question answering
// with cited answers.
//
// # Connecting
//
// Dial finds the mesh through etcd (the way its services find each other)
// or dials one address directly:
//
//	c, err := pdfqa.Dial(ctx, "etcd://127.0.0.1:2379")           // a mesh
//	c, err := pdfqa.Dial(ctx, "10.0.0.5:7000", pdfqa.WithAPIKey(k)) // one front
//	defer c.Close()
//
// Every call runs under the platform's defaults: a deadline when the context
// carries none (30 s for a call, 15 min for a stream; WithTimeouts changes
// them per service), retries of idempotent calls on UNAVAILABLE, and a
// circuit breaker per service, so a dead service fails fast instead of
// hanging. A context deadline of your own always wins.
//
// # Ingesting
//
// Ingest uploads PDFs into a collection (created on first upload) and
// follows each one through parsing, chunking, embedding and indexing,
// reporting progress to a callback:
//
//	docs, err := c.Ingest(ctx, "filings", func(p pdfqa.Progress) {
//		fmt.Printf("%s %s %d/%d\n", p.Name, p.Stage, p.Done, p.Total)
//	}, "10-q.pdf", "10-k.pdf")
//
// # Asking
//
// Ask returns the run's events as an iterator (range over func); the answer
// text arrives as AnswerDelta events and the run's full record, with its
// citations, as the last event:
//
//	for ev, err := range c.Ask(ctx, "filings", "What was Q3 revenue?") {
//		if err != nil {
//			return err
//		}
//		switch ev := ev.(type) {
//		case pdfqa.AnswerDelta:
//			fmt.Print(ev.Text)
//		case pdfqa.RunDone:
//			for _, cit := range ev.Run.GetCitations() {
//				fmt.Printf("\n[%s p.%d]", cit.GetDocument(), cit.GetPage())
//			}
//		}
//	}
//
// Answer does the same and returns the finished run. Breaking out of the
// loop ends the stream.
//
// # Conversations
//
// A follow-up question is asked with the turns before it; the agents read
// "and in the prior quarter?" against the latest earlier question
// ("What were net sales in Q3 2023?" makes it "... in Q2 2023?"):
//
//	run, err := c.Answer(ctx, "filings", "And in the prior quarter?", nil,
//		pdfqa.WithHistory(pdfqa.UserTurn(prev.GetQuestion()), pdfqa.AssistantTurn(prev.GetAnswer())))
//
// The history is bounded (MaxHistoryTurns, MaxHistoryTurnBytes,
// MaxHistoryBytes; more is ErrInvalidArgument): TrimHistory keeps a long
// conversation's latest turns within the bounds.
//
// # Errors
//
// Errors from the mesh match the sentinels of this package by their gRPC
// code, whichever service raised them:
//
//	if errors.Is(err, pdfqa.ErrNotFound) { ... }
//
// # Documents one at a time
//
// Upload stores one PDF given as bytes (UploadOptions carries an encrypted
// PDF's password) and Follow follows its ingestion; Ingest is both for
// files. CreateCollection, Collections, Documents and Document list what is
// there.
//
// # Fine-tuning
//
// FineTune builds a grounded QA dataset from a collection and starts a LoRA
// job; WatchJob follows it; EvaluateAdapter and PublishAdapter finish it.
// Adapters lists the loaded adapters, each with its version's Sha256;
// UnloadAdapter(ctx, name, sha256) removes one, only that version when
// sha256 is given (a version published since is kept and the call fails
// with ErrFailedPrecondition naming it).
//
// # The models directly
//
// Generate and Embed call the served language and embedding models without
// documents (operator calls: an admin key).
package pdfqa
