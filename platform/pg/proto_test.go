package pg

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pdfqa/pdfqa/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), Options{URL: pgtest.DSN(t), Schema: "prototest", Migrations: fstest.MapFS{
		"0001_msgs.up.sql":   {Data: []byte(`CREATE TABLE msgs (id text PRIMARY KEY, n int NOT NULL, m bytea)`)},
		"0001_msgs.down.sql": {Data: []byte(`DROP TABLE msgs`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestProtoRows(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	want := map[string]*structpb.Struct{}
	for i, id := range []string{"a", "b", "c"} {
		s, err := structpb.NewStruct(map[string]any{"id": id, "n": i, "tags": []any{"x", strings.Repeat(id, 3)}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO msgs VALUES ($1, $2, $3)`, id, i, b); err != nil {
			t.Fatal(err)
		}
		want[id] = s
	}

	// One row, the message beside other columns.
	var id string
	got := &structpb.Struct{}
	if err := db.Pool.QueryRow(ctx, `SELECT id, m FROM msgs WHERE n = 1`).Scan(&id, Proto(got)); err != nil {
		t.Fatal(err)
	}
	if id != "b" || !proto.Equal(got, want["b"]) {
		t.Errorf("row %s: %v", id, got)
	}

	// Every row, in the query's order; the messages are their own (not
	// views of a buffer the next row reuses).
	all, err := QueryProtos[structpb.Struct](ctx, db, `SELECT m FROM msgs WHERE n >= $1 ORDER BY id DESC`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d messages", len(all))
	}
	for i, id := range []string{"c", "b", "a"} {
		if !proto.Equal(all[i], want[id]) {
			t.Errorf("message %d: %v, want %v", i, all[i], want[id])
		}
	}
	none, err := QueryProtos[structpb.Struct](ctx, db, `SELECT m FROM msgs WHERE n > 99`)
	if err != nil || len(none) != 0 {
		t.Errorf("no rows: %v, %v", none, err)
	}

	// What is not a stored message is an error naming the message type.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO msgs VALUES ('null', 7, NULL), ('junk', 8, '\xffffff'::bytea)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ q, want string }{
		{`SELECT m FROM msgs WHERE id = 'null'`, "NULL where a google.protobuf.Struct was stored"},
		{`SELECT m FROM msgs WHERE id = 'junk'`, "decoding a google.protobuf.Struct"},
		{`SELECT id FROM msgs WHERE id = 'a'`, "google.protobuf.Struct"},
	} {
		if _, err := QueryProtos[structpb.Struct](ctx, db, c.q); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.q, err, c.want)
		}
	}
	err = db.Pool.QueryRow(ctx, `SELECT m FROM msgs WHERE id = 'nope'`).Scan(Proto(&structpb.Struct{}))
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("no row: %v", err)
	}
	// A bad query is the query's error, through Do.
	if _, err := QueryProtos[structpb.Struct](ctx, db, `SELECT m FROM nowhere`); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("bad query: %v", err)
	}
}
