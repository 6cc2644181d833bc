package pdfqa

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTrimHistoryKeepsTheLatestTurnsWithinBounds(t *testing.T) {
	var h []*Turn
	for i := range MaxHistoryTurns + 5 {
		h = append(h, UserTurn(strings.Repeat("q", i+1)), AssistantTurn("  "))
	}
	got := TrimHistory(h)
	if len(got) != MaxHistoryTurns || got[len(got)-1].GetText() != strings.Repeat("q", MaxHistoryTurns+5) || got[0].GetText() != strings.Repeat("q", 6) {
		t.Fatalf("%d turns, first %q: want the latest %d non-empty ones, oldest first", len(got), got[0].GetText(), MaxHistoryTurns)
	}

	long := strings.Repeat("é", MaxHistoryTurnBytes) // 2 bytes each
	got = TrimHistory([]*Turn{UserTurn("old"), AssistantTurn(long)})
	if len(got) != 2 || len(got[1].GetText()) != MaxHistoryTurnBytes || !utf8.ValidString(got[1].GetText()) || got[1].GetRole() != TurnAssistant {
		t.Errorf("a long turn: %d bytes, valid %v; want its first %d bytes", len(got[1].GetText()), utf8.ValidString(got[1].GetText()), MaxHistoryTurnBytes)
	}

	big := strings.Repeat("x", MaxHistoryTurnBytes)
	got = TrimHistory([]*Turn{UserTurn("oldest"), UserTurn(big), AssistantTurn(big), UserTurn(big), AssistantTurn(big)})
	total := 0
	for _, t := range got {
		total += len(t.GetText())
	}
	if len(got) != 4 || total != MaxHistoryBytes {
		t.Errorf("%d turns, %d bytes; want the latest 4 (%d bytes): the oldest does not fit", len(got), total, MaxHistoryBytes)
	}
}

func TestNewAskRequestIsWhatAskSends(t *testing.T) {
	r := NewAskRequest("c", "  q?  ", WithAdapter("a"), SingleShot(), WithHistory(UserTurn("p")), WithHistory(AssistantTurn("x")))
	if r.GetCollection() != "c" || r.GetQuestion() != "q?" || r.GetAdapter() != "a" || r.GetMode() != 2 || len(r.GetHistory()) != 2 || r.GetHistory()[1].GetText() != "x" {
		t.Errorf("request %v", r)
	}
}

// Bad arguments are refused before anything is sent (the address is never dialed).
func TestBadArgumentsAreRefusedLocally(t *testing.T) {
	ctx := context.Background()
	c, err := Dial(ctx, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, e1 := c.Upload(ctx, "", "a.pdf", []byte("%PDF"), nil)
	_, e2 := c.Upload(ctx, "c", " ", []byte("%PDF"), nil)
	_, e3 := c.Follow(ctx, "c", "", nil)
	_, e4 := c.Generate(ctx, &GenerateRequest{}, nil)
	_, e5 := c.Embed(ctx)
	for i, err := range []error{e1, e2, e3, e4, e5} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("call %d: %v, want ErrInvalidArgument", i+1, err)
		}
	}
}
