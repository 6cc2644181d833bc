// Package index holds the retrieval algorithms: the text analyzer and BM25
// scoring, exact and HNSW vector search, and reciprocal rank fusion. Storage
// of postings and vectors lives in package store.
package index

import (
	"strings"
	"unicode"
)

// MaxTermRunes is the longest index term, in runes.
const MaxTermRunes = 64

// Terms splits text into index terms for financial English: lowercase runs
// of letters and digits; numbers keep their decimal point and lose thousands
// separators and currency signs ("$1,234.5" -> "1234.5", "3.2%" -> "3.2");
// a few stopwords are dropped; plurals are folded ("obligations" ->
// "obligation"). A term is at most MaxTermRunes long: a longer run (an
// encoded blob, a hash, a hostile PDF's megabyte "word") keeps its first
// MaxTermRunes, so that the query finds it the same way and no store key
// outgrows its limits (PostgreSQL's index entries hold about 2.7 kB).
func Terms(text string) []string {
	var out []string
	rs := []rune(text)
	var cur []rune
	flush := func() {
		if len(cur) == 0 {
			return
		}
		if len(cur) > MaxTermRunes {
			cur = cur[:MaxTermRunes]
		}
		t := string(cur)
		cur = cur[:0]
		if stop[t] {
			return
		}
		out = append(out, fold(t))
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur = append(cur, unicode.ToLower(r))
		case (r == '.' || r == ',') && len(cur) > 0 && isDigit(cur[len(cur)-1]) && i+1 < len(rs) && isDigit(rs[i+1]) && allNumeric(cur):
			if r == '.' {
				cur = append(cur, '.')
			}
		case r == '\'' || r == '’':
			// "snowflake's" -> "snowflake": drop the possessive.
			if i+1 < len(rs) && (rs[i+1] == 's' || rs[i+1] == 'S') && (i+2 >= len(rs) || !unicode.IsLetter(rs[i+2])) {
				i++
			}
			flush()
		default:
			flush()
		}
	}
	flush()
	return out
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func allNumeric(rs []rune) bool {
	for _, r := range rs {
		if !isDigit(r) && r != '.' {
			return false
		}
	}
	return true
}

// fold is a minimal plural stemmer: enough to match "obligation" with
// "obligations" without the surprises of a full stemmer on names.
func fold(t string) string {
	if len(t) <= 3 || !unicode.IsLetter(rune(t[len(t)-1])) {
		return t
	}
	switch {
	case strings.HasSuffix(t, "ies") && len(t) > 4:
		return t[:len(t)-3] + "y"
	case strings.HasSuffix(t, "ss"), strings.HasSuffix(t, "us"), strings.HasSuffix(t, "is"):
		return t
	case strings.HasSuffix(t, "s"):
		return t[:len(t)-1]
	}
	return t
}

var stop = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be but by for from has have had he her his i if in into is it its
		of on or our s she so such that the their them then there these they this to was we were what when where which
		who will with would you your do does did how can could than about also been being`) {
		stop[w] = true
	}
}
