package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// While the server is down calls fail fast with ErrUnavailable (the breaker
// opens after a few); once it is back the same store recovers by itself and
// nothing committed is lost.
func TestPostgresOutageFailsFastAndRecovers(t *testing.T) {
	srv := pgtest.New(t)
	dsn, err := srv.CreateDatabase()
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(context.Background(), dsn, PostgresOptions{CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addDoc(t, s, "c", "d1")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		start := time.Now()
		_, err := s.GetDocument(t.Context(), "c", "d1")
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d with the server down: %v, want ErrUnavailable", i, err)
		}
		if took := time.Since(start); took > 3500*time.Millisecond {
			t.Fatalf("call %d took %v: not failing fast", i, took)
		}
	}
	start := time.Now()
	if _, err := s.ListCollections(t.Context()); !errors.Is(err, ErrUnavailable) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("with the breaker open: %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		d, err := s.GetDocument(t.Context(), "c", "d1")
		if err == nil {
			if d.ID != "d1" {
				t.Fatalf("after recovery: %+v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 15s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	addDoc(t, s, "c", "d2")
}
