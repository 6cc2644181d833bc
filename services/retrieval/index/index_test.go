package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	for i, c := range []struct {
		in   string
		want []string
	}{
		{"Product revenue was $698.5 million, up 3.2%", []string{"product", "revenue", "698.5", "million", "up", "3.2"}},
		{"Snowflake's RPO: $1,234.5 in FY23.", []string{"snowflake", "rpo", "1234.5", "fy23"}},
		{"Remaining performance obligations", []string{"remaining", "performance", "obligation"}},
		{"year-on-year growth", []string{"year", "year", "growth"}},
	} {
		if got := Terms(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("#%d: got %q, want %q", i, got, c.want)
		}
	}
}

func TestBM25Ranking(t *testing.T) {
	docs := []string{
		"product revenue grew 84% to $394 million",
		"the weather was nice and the team had lunch",
		"revenue revenue revenue and more revenue from services in many many words padding padding padding padding",
		"operating margin improved",
	}
	n := int64(len(docs))
	df := map[string]int64{}
	tf := make([]map[string]int, len(docs))
	total := 0
	for i, d := range docs {
		tf[i] = map[string]int{}
		seen := map[string]bool{}
		for _, w := range Terms(d) {
			tf[i][w]++
			total++
			if !seen[w] {
				df[w]++
				seen[w] = true
			}
		}
	}
	avg := float64(total) / float64(n)
	var hits []Hit
	for i := range docs {
		s := 0.0
		for _, q := range Terms("product revenue growth") {
			s += BM25(tf[i][q], len(Terms(docs[i])), df[q], n, avg)
		}
		hits = append(hits, Hit{fmt.Sprint(i), s})
	}
	SortHits(hits)
	if hits[0].ID != "0" {
		t.Errorf("best = %s, want 0 (%v)", hits[0].ID, hits)
	}
	if hits[3].Score != 0 && hits[2].Score != 0 {
		t.Errorf("irrelevant docs scored: %v", hits)
	}
}

func TestRRF(t *testing.T) {
	a := []Hit{{"x", 9}, {"y", 8}, {"z", 7}}
	b := []Hit{{"z", 1}, {"x", 0.5}, {"w", 0.1}}
	got := RRF(60, a, b)
	want := []string{"x", "z", "y", "w"}
	for i, w := range want {
		if got[i].ID != w {
			t.Fatalf("#%d: got %v, want order %v", i, got, want)
		}
	}
	if d := got[0].Score - (1.0/61 + 1.0/62); math.Abs(d) > 1e-12 {
		t.Errorf("x score %v", got[0].Score)
	}
}

func randVecs(r *rand.Rand, n, dim int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		var s float64
		for j := range v {
			v[j] = float32(r.NormFloat64())
			s += float64(v[j] * v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(s))
		}
		out[i] = v
	}
	return out
}

func TestHNSWRecall(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n, dim, k = 3000, 64, 10
	vecs := randVecs(r, n, dim)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	exact := NewVectors()
	exact.ANNThreshold = 0
	exact.Add("d", ids, vecs)
	ann := NewVectors()
	ann.ANNThreshold = 1000
	ann.Add("d", ids, vecs)
	found, total := 0, 0
	for _, q := range randVecs(r, 100, dim) {
		want := map[string]bool{}
		for _, h := range exact.Search(q, k, nil) {
			want[h.ID] = true
		}
		for _, h := range ann.Search(q, k, nil) {
			if want[h.ID] {
				found++
			}
		}
		total += k
	}
	recall := float64(found) / float64(total)
	t.Logf("HNSW recall@%d over %d random %d-dim vectors: %.3f", k, n, dim, recall)
	if recall < 0.9 {
		t.Errorf("recall %.3f < 0.9", recall)
	}
}

func TestVectorsFilterAndRemove(t *testing.T) {
	v := NewVectors()
	v.Add("a", []string{"a1", "a2"}, [][]float32{{1, 0}, {0.8, 0.6}})
	v.Add("b", []string{"b1"}, [][]float32{{1, 0}})
	if got := v.Search([]float32{1, 0}, 3, map[string]bool{"a": true}); len(got) != 2 || got[0].ID != "a1" {
		t.Errorf("filtered: %v", got)
	}
	v.RemoveGroup("a")
	if got := v.Search([]float32{1, 0}, 3, nil); len(got) != 1 || got[0].ID != "b1" {
		t.Errorf("after remove: %v", got)
	}
	if v.Add("c", []string{"c1"}, [][]float32{{1, 0, 0}}) {
		t.Error("dimension mismatch accepted")
	}
}

// TestTermsLongRun checks that a run of letters longer than MaxTermRunes
// (a hostile PDF's megabyte "word") is one term of its first MaxTermRunes,
// the same in a query, and that the words around it are untouched.
func TestTermsLongRun(t *testing.T) {
	long := strings.Repeat("é", 100_000)
	got := Terms("net sales " + long + " grew")
	want := []string{"net", "sale", strings.Repeat("é", MaxTermRunes), "grew"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%d terms, lengths %v; want %v", len(got), lens(got), lens(want))
	}
	if q := Terms(long[:2*(MaxTermRunes+5)]); len(q) != 1 || q[0] != want[2] {
		t.Fatalf("a query with the run's first %d runes gives %v, want the same term", MaxTermRunes+5, lens(q))
	}
}

func lens(ts []string) []int {
	var out []int
	for _, t := range ts {
		out = append(out, len([]rune(t)))
	}
	return out
}
