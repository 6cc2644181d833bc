package client

import (
	"errors"
	"io"
	"testing"
)

type delta struct{ d string }

func (m *delta) GetDelta() string { return m.d }

// fakeStream yields msgs, then end (io.EOF if nil).
type fakeStream struct {
	msgs []*delta
	end  error
}

func (s *fakeStream) Recv() (*delta, error) {
	if len(s.msgs) == 0 {
		if s.end == nil {
			return nil, io.EOF
		}
		return nil, s.end
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

func TestText(t *testing.T) {
	var seen []string
	got, err := Text(&fakeStream{msgs: []*delta{{"Par"}, {""}, {"is"}}}, func(m *delta) { seen = append(seen, m.d) })
	if err != nil || got != "Paris" {
		t.Fatalf("Text = %q, %v", got, err)
	}
	if len(seen) != 3 {
		t.Fatalf("each saw %q, want every message", seen)
	}
	if got, err := Text[delta](&fakeStream{}, nil); err != nil || got != "" {
		t.Fatalf("empty stream: %q, %v", got, err)
	}
}

func TestTextKeepsPartialTextOnError(t *testing.T) {
	boom := errors.New("deadline")
	got, err := Text[delta](&fakeStream{msgs: []*delta{{"half"}}, end: boom}, nil)
	if !errors.Is(err, boom) || got != "half" {
		t.Fatalf("Text = %q, %v; want the text so far and the error", got, err)
	}
}

func TestDrainStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Drain(&fakeStream{msgs: []*delta{{"a"}, {"b"}, {"c"}}}, func(*delta) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("Drain = %v after %d messages", err, n)
	}
	if err := Drain[delta](&fakeStream{msgs: []*delta{{"a"}}}, nil); err != nil {
		t.Fatal(err)
	}
}
