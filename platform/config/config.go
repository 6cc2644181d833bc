// Package config reads the settings every pdfqa command shares from flags
// with environment-variable defaults (PDFQA_*), so a container can be
// configured either way.
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
}

// Env returns the environment variable key, or def when unset or empty.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// DefaultCache is PDFQA_CACHE, else <user cache dir>/pdfqa.
func DefaultCache() string {
	if v := os.Getenv("PDFQA_CACHE"); v != "" {
		return v
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "pdfqa")
}

// DefaultData is PDFQA_DATA, else ./.data.
func DefaultData() string { return Env("PDFQA_DATA", ".data") }

// Bind registers the common flags on fs.
func (c *Common) Bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Etcd, "etcd", Env("PDFQA_ETCD", "127.0.0.1:2379"), "etcd endpoints, comma separated (env PDFQA_ETCD)")
	fs.StringVar(&c.Data, "data", DefaultData(), "data directory (env PDFQA_DATA)")
	fs.StringVar(&c.Cache, "cache", DefaultCache(), "model and engine cache directory (env PDFQA_CACHE)")
	fs.StringVar(&c.LogLevel, "log-level", Env("PDFQA_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env PDFQA_LOG_LEVEL)")
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
