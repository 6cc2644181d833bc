package main

// The synthetic collection and its queries: filings-shaped text (a Zipf
// distribution over a vocabulary whose head is stopwords and financial
// words) and the test embedder's vectors, the same for every store and
// every run of a size.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

const vocabSize = 40000

// head is the distribution's head: stopwords (dropped by the analyzer, as
// in real text) and financial words, in rough frequency order.
var head = strings.Fields(`the of and to in a is for on that by with as are from our we this be or at which
	revenue million quarter net income total cash operating expenses fiscal period increase compared results year
	sales billion financial share months ended costs tax product products customers growth margin services
	december september june march interest assets liabilities stock diluted per earnings gross lease debt
	segment approximately primarily due impact inflation guidance outlook demand supply cloud subscription
	customer retention operating cost research development marketing general administrative acquisition`)

// vocabulary returns vocabSize distinct words, most frequent first: the
// head, then pronounceable synthetic words.
func vocabulary() []string {
	seen := map[string]bool{}
	var v []string
	for _, w := range head {
		if !seen[w] {
			seen[w] = true
			v = append(v, w)
		}
	}
	r := rand.New(rand.NewPCG(7, 7))
	syl := strings.Fields("ka ro mi te lu sa no vi de pa ren tor gal mon ber cas fin lex dor qua spe tri")
	for len(v) < vocabSize {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syl[r.IntN(len(syl))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			v = append(v, w)
		}
	}
	return v
}

func number(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return strconv.Itoa(2015 + r.IntN(11))
	case 1:
		return fmt.Sprintf("%d.%d", r.IntN(100), r.IntN(10))
	case 2:
		return fmt.Sprintf("$%d,%03d", 1+r.IntN(99), r.IntN(1000))
	}
	return strconv.Itoa(r.IntN(1000))
}

// synthetic returns the n-chunk collection's documents one by one, perDoc
// chunks a document (nil at the end).
func synthetic(n int, voc []string) func() (*store.BulkDocument, error) {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	z := rand.NewZipf(r, 1.1, 1, uint64(len(voc)-1))
	emb := embed.Hash{Dim: dim}
	d := 0
	return func() (*store.BulkDocument, error) {
		if d*perDoc >= n {
			return nil, nil
		}
		id := fmt.Sprintf("doc%05d", d)
		m := min(perDoc, n-d*perDoc)
		d++
		chunks := make([]store.Chunk, m)
		texts := make([]string, m)
		for i := range chunks {
			var b strings.Builder
			for range 120 + r.IntN(101) {
				if r.IntN(10) == 0 {
					b.WriteString(number(r))
				} else {
					b.WriteString(voc[z.Uint64()])
				}
				b.WriteByte(' ')
			}
			texts[i] = b.String()
			c := store.Chunk{DocID: id, Seq: i, DocName: id + ".pdf", Page: 1 + i/4, PageEnd: 1 + i/4, Text: texts[i], Kind: store.KindText, Terms: map[string]int{}}
			for _, w := range index.Terms(texts[i]) {
				c.Terms[w]++
				c.Len++
			}
			c.Tokens = c.Len
			chunks[i] = c
		}
		vecs, err := emb.Embed(context.Background(), texts)
		if err != nil {
			return nil, err
		}
		return &store.BulkDocument{Doc: store.Document{ID: id, Name: id + ".pdf", SHA256: id, State: store.StateReady, Chunks: m, EmbedModel: embed.ModelName(emb)},
			Chunks: chunks, Vecs: vecs}, nil
	}
}

// queryTexts returns n queries of 2-5 words from the text's distribution
// (stopwords excluded), a third with a number.
func queryTexts(voc []string, n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(3, seed))
	z := rand.NewZipf(r, 1.1, 1, uint64(len(voc)-1))
	out := make([]string, n+5)
	for i := range out {
		var ws []string
		for k := 2 + r.IntN(4); len(ws) < k; {
			w := voc[z.Uint64()]
			if len(index.Terms(w)) == 0 {
				continue // a stopword
			}
			ws = append(ws, w)
		}
		if r.IntN(3) == 0 {
			ws = append(ws, number(r))
		}
		out[i] = strings.Join(ws, " ")
	}
	return out
}
