package client

import (
	"errors"
	"io"
	"strings"
)

// Receiver is the receiving side of a server-streaming call, such as a
// grpc.ServerStreamingClient[T].
type Receiver[T any] interface {
	Recv() (*T, error)
}

// Drain receives a stream's messages until it ends, calling each (if not
// nil) with every one. The end of the stream (io.EOF) returns nil; another
// receive error, or an error from each, stops it and is returned.
func Drain[T any](st Receiver[T], each func(*T) error) error {
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if each != nil {
			if err := each(m); err != nil {
				return err
			}
		}
	}
}

// Text drains a stream of text deltas (inference Generate) and returns
// their concatenation; each, if not nil, sees every message as it comes.
// On error the text received so far comes with it.
func Text[T any, PT interface {
	*T
	GetDelta() string
}](st Receiver[T], each func(PT)) (string, error) {
	var b strings.Builder
	err := Drain(st, func(m *T) error {
		b.WriteString(PT(m).GetDelta())
		if each != nil {
			each(PT(m))
		}
		return nil
	})
	return b.String(), err
}
