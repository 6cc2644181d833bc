package pg

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
)

// The services keep each record as its protobuf message in a bytea column
// (the columns beside it are what queries filter on). Proto and
// CollectProtos are the one way a row is decoded back into its message.

// Proto is a Scan destination that decodes a bytea column holding a
// serialized m into m: row.Scan(&id, pg.Proto(run)). A NULL is an error.
func Proto(m proto.Message) sql.Scanner { return protoScanner{m} }

type protoScanner struct{ m proto.Message }

func (p protoScanner) Scan(src any) error {
	name := p.m.ProtoReflect().Descriptor().FullName()
	switch b := src.(type) {
	case []byte:
		if err := proto.Unmarshal(b, p.m); err != nil {
			return fmt.Errorf("pg: decoding a %s: %w", name, err)
		}
		return nil
	case nil:
		return fmt.Errorf("pg: NULL where a %s was stored", name)
	}
	return fmt.Errorf("pg: a %T column where a %s (bytea) was stored", src, name)
}

// Message is the constraint of CollectProtos and QueryProtos: *T is a
// protobuf message.
type Message[T any] interface {
	*T
	proto.Message
}

// CollectProtos reads every row of rows, each one bytea column holding a
// serialized T, and closes rows.
func CollectProtos[T any, PT Message[T]](rows pgx.Rows) ([]PT, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (PT, error) {
		m := PT(new(T))
		return m, row.Scan(Proto(m))
	})
}

// QueryProtos runs query through db.Do and returns its rows (one bytea
// column each) decoded as T, in the query's order.
func QueryProtos[T any, PT Message[T]](ctx context.Context, db *DB, query string, args ...any) ([]PT, error) {
	var out []PT
	err := db.Do(ctx, func(ctx context.Context) error {
		rows, err := db.Pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = CollectProtos[T, PT](rows)
		return err
	})
	return out, err
}
