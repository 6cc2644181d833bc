package pdfqa_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

// Bad input is refused before anything is sent.
func ExampleClient_Ask() {
	ctx := context.Background()
	c, err := pdfqa.Dial(ctx, "127.0.0.1:1") // connections are made on first use
	if err != nil {
		panic(err)
	}
	defer c.Close()
	for ev, err := range c.Ask(ctx, "filings", "   ") {
		fmt.Println(ev, errors.Is(err, pdfqa.ErrInvalidArgument), err)
	}
	// Output: <nil> true ask: empty question
}

// A mesh that is not there fails fast with a typed error, not a hang.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pdfqa.Dial(ctx, "etcd://127.0.0.1:1")
	fmt.Println(errors.Is(err, pdfqa.ErrUnavailable))
	_, err = pdfqa.Dial(ctx, "http://x")
	fmt.Println(errors.Is(err, pdfqa.ErrInvalidArgument))
	// Output:
	// true
	// true
}

// A follow-up is asked with the conversation so far; the agents read "and
// in the prior quarter?" against the latest earlier question.
func ExampleWithHistory() {
	req := pdfqa.NewAskRequest("filings", "And in the prior quarter?", pdfqa.WithHistory(
		pdfqa.UserTurn("What were net sales in Q3 2023?"),
		pdfqa.AssistantTurn("$81.8 billion [apple-q3.pdf p.4]."),
	))
	for _, t := range req.GetHistory() {
		fmt.Println(t.GetRole(), t.GetText())
	}
	fmt.Println(req.GetQuestion())
	// Output:
	// TURN_ROLE_USER What were net sales in Q3 2023?
	// TURN_ROLE_ASSISTANT $81.8 billion [apple-q3.pdf p.4].
	// And in the prior quarter?
}
