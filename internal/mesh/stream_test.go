package mesh

import (
	"context"
	"errors"
	"io"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// drain reads a server stream to its end, passing each message to each
// (nil: none); it returns nil at the stream's end (io.EOF), else the
// first error, the stream's or each's.
func drain[T any](st interface{ Recv() (T, error) }, each func(T) error) error {
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if each != nil {
			if err := each(ev); err != nil {
				return err
			}
		}
	}
}

// askRun asks c and reads the answer stream to its end (drain, each seeing
// every event first): the last run the stream carried (nil: none), and
// the error that ended it or refused the ask.
func askRun(ctx context.Context, c agentsv1.AgentsServiceClient, req *agentsv1.AskRequest, each func(*agentsv1.AskResponse) error) (*agentsv1.Run, error) {
	st, err := c.Ask(ctx, req)
	if err != nil {
		return nil, err
	}
	var run *agentsv1.Run
	err = drain(st, func(ev *agentsv1.AskResponse) error {
		if r := ev.GetRun(); r != nil {
			run = r
		}
		if each != nil {
			return each(ev)
		}
		return nil
	})
	return run, err
}
