// Package pg is the services' shared PostgreSQL plumbing: a pgx pool whose
// connections live in the service's own schema (search_path), that schema's
// migrations (embedded SQL, run at start by golang-migrate under its
// advisory lock, so replicas starting together migrate once), a deadline on
// every call, retries of serialization failures and deadlocks, and a
// circuit breaker (platform/breaker) so that while the server is down calls
// fail fast with ErrUnavailable and recover by themselves when it returns.
package pg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/pdfqa/pdfqa/platform/breaker"
)

// ErrUnavailable: the database cannot be reached (or the breaker is open
// after repeated failures). Services map it to codes.Unavailable.
var ErrUnavailable = errors.New("database unavailable")

// Options configure Open; zero values take the defaults noted.
type Options struct {
	// URL is the postgres:// connection string.
	URL string
	// Schema is the service's schema (created if missing); its tables and
	// migration table live there.
	Schema string
	// Migrations holds the schema's NNNN_name.up.sql files (and .down.sql).
	Migrations fs.FS
	// MaxConns bounds the pool (default 16; the URL's pool_max_conns wins).
	MaxConns int32
	// StatementTimeout bounds each statement on the server (default 30s).
	StatementTimeout time.Duration
	// CallTimeout is the deadline of a call whose context has none
	// (default 30s).
	CallTimeout time.Duration
	// AfterConnect runs on each new connection (registering types).
	AfterConnect func(context.Context, *pgx.Conn) error
	// Breaker tunes the circuit breaker (defaults: 5 failures, 2s open).
	Breaker breaker.Settings
	Log     *slog.Logger
}

// DB is a service's pool in its schema.
type DB struct {
	Pool    *pgxpool.Pool
	Schema  string
	br      *breaker.Breaker
	timeout time.Duration
	log     *slog.Logger
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects, creates the schema and runs its migrations.
func Open(ctx context.Context, o Options) (*DB, error) {
	if !schemaName.MatchString(o.Schema) {
		return nil, fmt.Errorf("pg: bad schema name %q", o.Schema)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 30 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("pg: %w", err)
	}
	if o.MaxConns > 0 && !hasParam(o.URL, "pool_max_conns") {
		cfg.MaxConns = o.MaxConns
	} else if !hasParam(o.URL, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["search_path"] = o.Schema + ", public"
	rp["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	rp["application_name"] = "pdfqa-" + o.Schema
	cfg.HealthCheckPeriod = 5 * time.Second

	// The schema and its migrations first, on a connection of their own
	// (the pool's AfterConnect may need types the migrations create).
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := migrateSchema(mctx, cfg.ConnConfig, o); err != nil {
		return nil, err
	}
	cfg.AfterConnect = o.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pg: %w", err)
	}
	bs := o.Breaker
	if bs.OpenTimeout == 0 {
		bs.OpenTimeout = 2 * time.Second
	}
	bs.IsFailure = IsConnectionError
	return &DB{Pool: pool, Schema: o.Schema, br: breaker.New("postgres-"+o.Schema, bs, nil), timeout: o.CallTimeout, log: o.Log}, nil
}

func hasParam(url, name string) bool {
	return regexp.MustCompile(`[?&]` + name + `=`).MatchString(url)
}

func migrateSchema(ctx context.Context, cc *pgx.ConnConfig, o Options) error {
	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+o.Schema)
	conn.Close(context.Background())
	if err != nil && !isDuplicate(err) {
		return fmt.Errorf("pg: create schema %s: %w", o.Schema, err)
	}
	if o.Migrations == nil {
		return nil
	}
	db := sql.OpenDB(stdlib.GetConnector(*cc.Copy()))
	defer db.Close()
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{SchemaName: o.Schema, MigrationsTable: "schema_migrations"})
	if err != nil {
		return fmt.Errorf("pg: migrations of %s: %w", o.Schema, err)
	}
	src, err := iofs.New(o.Migrations, ".")
	if err != nil {
		return fmt.Errorf("pg: migrations of %s: %w", o.Schema, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return fmt.Errorf("pg: migrations of %s: %w", o.Schema, err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Up() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		m.GracefulStop <- true
		err = <-done
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("pg: migrating %s: %w", o.Schema, err)
	}
	v, _, _ := m.Version()
	o.Log.Info("database schema ready", "schema", o.Schema, "version", v)
	return nil
}

// isDuplicate: two replicas created the schema at once.
func isDuplicate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P06" || pe.Code == "23505")
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// IsConnectionError reports whether err says the server cannot be reached
// or went away (what trips the breaker), as opposed to an answer about the
// query.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01-03: shutdown, cannot connect now.
		return pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// Do runs fn through the breaker with a deadline (the context's, else the
// call timeout). A connection failure comes back as ErrUnavailable; an open
// breaker answers ErrUnavailable without calling fn.
func (db *DB) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, db.timeout)
		defer cancel()
	}
	var inner error
	err := db.br.Do(func() error {
		inner = fn(ctx)
		return inner
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, breaker.ErrOpen):
		return fmt.Errorf("%w: %s: circuit breaker open after repeated failures", ErrUnavailable, db.Schema)
	case IsConnectionError(err) && !errors.Is(err, ErrUnavailable):
		// %v, not %w: a deadline here is the server's failure, not the caller's.
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, db.Schema, err)
	}
	return err
}

// Tx runs fn in a transaction (at isolation iso; "" is read committed),
// retried with backoff on serialization failures and deadlocks.
func (db *DB) Tx(ctx context.Context, iso pgx.TxIsoLevel, fn func(context.Context, pgx.Tx) error) error {
	return db.Do(ctx, func(ctx context.Context) error {
		_, err := backoff.Retry(ctx, func() (struct{}, error) {
			err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: iso}, func(tx pgx.Tx) error { return fn(ctx, tx) })
			if err != nil && !retryable(err) {
				return struct{}{}, backoff.Permanent(err)
			}
			return struct{}{}, err
		}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxTries(8))
		return err
	})
}
