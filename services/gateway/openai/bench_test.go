package openai

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkTTFTOverhead is the time the API adds to the first token: from
// the request leaving an HTTP client to its first content chunk arriving,
// over a backend that answers at once (so all of it is parsing, model
// resolution, SSE framing and loopback HTTP).
func BenchmarkTTFTOverhead(b *testing.B) {
	f := &fake{}
	s := serveB(b, f)
	body := `{"model":"pdfqa/filings","stream":true,"messages":[{"role":"user","content":"Q3 revenue?"}]}`
	var total time.Duration
	for b.Loop() {
		t0 := time.Now()
		resp, err := http.Post(s+Prefix+"/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"content":"Revenue`) {
				total += time.Since(t0)
				break
			}
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/first-token")
}
