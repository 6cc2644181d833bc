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
