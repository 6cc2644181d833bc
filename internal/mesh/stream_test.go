package mesh

import (
	"context"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/client"
)

// askRun asks c and reads the answer stream to its end (client.Drain, each
// seeing every event first): the last run the stream carried (nil: none), and
// the error that ended it or refused the ask.
func askRun(ctx context.Context, c agentsv1.AgentsServiceClient, req *agentsv1.AskRequest, each func(*agentsv1.AskResponse) error) (*agentsv1.Run, error) {
	st, err := c.Ask(ctx, req)
	if err != nil {
		return nil, err
	}
	var run *agentsv1.Run
	err = client.Drain(st, func(ev *agentsv1.AskResponse) error {
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
