// Package config reads pdfqa's settings: environment variables (PDFQA_*),
// some overridden by flags, so a container can be configured either way.
// Each service reads its Config in one function through a Reader, which
// records every setting with its default and source for `pdfqa config` and
// the README's generated tables (settings.go).
package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
)

// Common holds settings shared by every service.
type Common struct {
	// Etcd lists etcd endpoints, comma separated.
	Etcd string
	// Data is the data directory.
	Data string
	// Cache is the model/engine cache directory.
	Cache string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// Store is the shared state's server (postgres://…); empty: the
	// embedded stores in Data.
	Store string
	// TLSDir holds the mesh's certificates (ca.crt and tls.crt/tls.key, or
	// one <service>/ folder each): mutual TLS between services and to
	// etcd; empty: plaintext.
	TLSDir string
}

// Env returns the environment variable key, or def when unset or empty.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// DefaultCache is PDFQA_CACHE, else <user cache dir>/pdfqa.
func DefaultCache() string { return Env("PDFQA_CACHE", userCache()) }

func userCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "pdfqa")
}

// DefaultData is PDFQA_DATA, else ./.data.
func DefaultData() string { return Env("PDFQA_DATA", ".data") }

// The common settings, flags of every serving command.
var (
	EtcdSetting     = Setting{Section: "common", Env: "PDFQA_ETCD", Flag: "etcd", Doc: "etcd endpoints, comma separated"}
	DataSetting     = Setting{Section: "common", Env: "PDFQA_DATA", Flag: "data", Doc: "data directory"}
	CacheSetting    = Setting{Section: "common", Env: "PDFQA_CACHE", Flag: "cache", Doc: "model and engine cache directory", DocDefault: "`~/.cache/pdfqa` (the user cache directory)"}
	LogLevelSetting = Setting{Section: "common", Env: "PDFQA_LOG_LEVEL", Flag: "log-level", Doc: "log level: debug, info, warn, error"}
	TLSDirSetting   = Setting{Section: "common", Env: "PDFQA_TLS_DIR", Flag: "tls-dir", Doc: "directory of certificates for mutual TLS between services and to etcd: ca.crt with tls.crt and tls.key, or a folder of them per service named after it, as pdfqa certs writes; unset: plaintext"}
	StoreSetting    = Setting{Section: "common", Env: "PDFQA_STORE", Flag: "store", Doc: "shared state on a PostgreSQL server with pgvector (`postgres://user:pass@host/db`), for running services as several replicas; empty: embedded files in the data directory", Secret: true}
)

// Bind registers the common flags on fs, their defaults from the environment.
func (c *Common) Bind(fs *flag.FlagSet) { c.BindFrom(fs, Environment()) }

// BindFrom registers the common flags on fs, their defaults read by r.
func (c *Common) BindFrom(fs *flag.FlagSet, r *Reader) {
	r.StringFlag(fs, &c.Etcd, EtcdSetting, "127.0.0.1:2379")
	r.StringFlag(fs, &c.Data, DataSetting, ".data")
	r.StringFlag(fs, &c.Cache, CacheSetting, userCache())
	r.StringFlag(fs, &c.LogLevel, LogLevelSetting, "info")
	r.StringFlag(fs, &c.Store, StoreSetting, "")
	r.StringFlag(fs, &c.TLSDir, TLSDirSetting, "")
}

// EtcdEndpoints splits Etcd into endpoints.
func (c *Common) EtcdEndpoints() []string {
	var out []string
	for _, e := range strings.Split(c.Etcd, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
