package store

import (
	"errors"
	"slices"
	"testing"

	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// The ranking's decoding of array_send (postgres_rank.go) is the server's
// int4[]: the same values as pgx's array codec for empty, short, long and
// negative arrays, three concatenated split back exactly; a truncated,
// padded, NULL-holding, two-dimensional or other-typed array is an error,
// never a panic or a wrong array.
func TestSentInt4s(t *testing.T) {
	st, err := OpenPostgres(t.Context(), pgtest.DSN(t), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	long := make([]int32, 3000)
	for i := range long {
		long[i] = int32(i*7919) - 1<<20
	}
	cases := [][3][]int32{
		{{}, {}, {}},
		{{5}, {1}, {300}},
		{{0, 1, 2, 17}, {3, 1, 4, 1}, {-2147483648, 2147483647, 0, -1}},
		{long, long[:10], {}},
	}
	for _, c := range cases {
		var raw []byte
		var a, b, d []int32
		if err := st.db.Pool.QueryRow(t.Context(), `SELECT array_send($1::int[]) || array_send($2::int[]) || array_send($3::int[]), $1::int[], $2::int[], $3::int[]`,
			c[0], c[1], c[2]).Scan(&raw, &a, &b, &d); err != nil {
			t.Fatal(err)
		}
		x, y, z, err := sentThree(raw)
		if err != nil {
			t.Fatal(err)
		}
		for i, got := range [][]int32{x, y, z} {
			if !slices.Equal(got, [][]int32{a, b, d}[i]) || !slices.Equal(got, c[i]) {
				t.Fatalf("array %d of %v: got %v, pgx %v", i, c, got, [][]int32{a, b, d}[i])
			}
		}
		if len(raw) > 12 {
			for _, bad := range [][]byte{raw[:len(raw)-1], append(slices.Clone(raw), 0), raw[:11]} {
				if _, _, _, err := sentThree(bad); !errors.Is(err, errBadArray) {
					t.Fatalf("%d of %d bytes: %v, want errBadArray", len(bad), len(raw), err)
				}
			}
		}
	}
	for _, q := range []string{`SELECT array_send(ARRAY[1, NULL, 3]::int[])`, `SELECT array_send('{{1,2},{3,4}}'::int[])`,
		`SELECT array_send(ARRAY[1, 2]::bigint[])`, `SELECT array_send(ARRAY[1, 2]::int[])`} {
		var raw []byte
		if err := st.db.Pool.QueryRow(t.Context(), q).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		// (the last is one array where three are read)
		if _, _, _, err := sentThree(raw); !errors.Is(err, errBadArray) {
			t.Fatalf("%s: %v, want errBadArray", q, err)
		}
	}
	if _, err := sentPostings(append(append(sentOf(t, st, "{1,2}"), sentOf(t, st, "{1}")...), sentOf(t, st, "{1,2}")...)); err == nil {
		t.Fatal("postings of 2 seqs and 1 tf: no error")
	}
}

func sentOf(t *testing.T, st *Postgres, arr string) []byte {
	t.Helper()
	var raw []byte
	if err := st.db.Pool.QueryRow(t.Context(), `SELECT array_send($1::int[])`, arr).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	return raw
}
