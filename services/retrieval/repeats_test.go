package retrieval

import (
	"slices"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

func TestDemoteRepeats(t *testing.T) {
	para := "The North America segment primarily consists of amounts earned from retail sales of consumer products and subscriptions through North America-focused online and physical stores."
	row := func(q, v string) string {
		return "Net sales information (in millions) — Net Sales › North America: Three Months Ended " + q + " $" + v
	}
	rs := []Result{
		{Chunk: store.Chunk{DocID: "q1", Seq: 1, Text: para}, Score: 9},
		{Chunk: store.Chunk{DocID: "q2", Seq: 1, Text: "18 " + para}, Score: 8}, // a page number in front: still a repeat
		{Chunk: store.Chunk{DocID: "q1", Seq: 2, Text: row("March 31, 2023", "76,881")}, Score: 7},
		{Chunk: store.Chunk{DocID: "q2", Seq: 2, Text: row("June 30, 2023", "82,546")}, Score: 6}, // same row, other figures: not a repeat
		{Chunk: store.Chunk{DocID: "q3", Seq: 1, Text: para}, Score: 5},
		{Chunk: store.Chunk{DocID: "q3", Seq: 2, Text: "Operating income in the International segment improved as fulfillment costs fell."}, Score: 4},
	}
	got := demoteRepeats(rs)
	var order []string
	for _, r := range got {
		order = append(order, chunkID(r.Chunk.DocID, r.Chunk.Seq))
	}
	want := []string{"q1-1", "q1-2", "q2-2", "q3-2", "q2-1", "q3-1"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	if j := jaccard(trigrams(row("March 31, 2023", "76,881")), trigrams(row("June 30, 2023", "82,546"))); j >= repeatJaccard {
		t.Errorf("rows of two quarters count as repeats (Jaccard %.2f)", j)
	}
	if got := demoteRepeats(nil); got != nil {
		t.Errorf("demoteRepeats(nil) = %v", got)
	}
}

// BenchmarkDemoteRepeats: a search's 100 candidates of ~120 words, a
// quarter of them repeating another.
func BenchmarkDemoteRepeats(b *testing.B) {
	words := strings.Fields("net sales operating income segment quarter revenue growth cash flow margin product services customers international america cloud advertising subscription fulfillment technology marketing")
	var rs []Result
	for i := range 100 {
		src := i
		if i%4 == 3 {
			src = i - 3 // a repeat of an earlier candidate
		}
		var sb strings.Builder
		for w := range 120 {
			sb.WriteString(words[(src*7+w*w+w*src)%len(words)])
			sb.WriteByte(' ')
		}
		rs = append(rs, Result{Chunk: store.Chunk{DocID: "d", Seq: i, Text: sb.String()}, Score: float64(100 - i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		demoteRepeats(slices.Clone(rs))
	}
}
