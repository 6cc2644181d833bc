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
// # Errors
//
// Errors from the mesh match the sentinels of this package by their gRPC
// code, whichever service raised them:
//
//	if errors.Is(err, pdfqa.ErrNotFound) { ... }
//
// # Fine-tuning
//
// FineTune builds a grounded QA dataset from a collection and starts a LoRA
// job; WatchJob follows it; EvaluateAdapter and PublishAdapter finish it.
package pdfqa
