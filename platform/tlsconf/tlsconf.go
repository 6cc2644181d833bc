// Package tlsconf is the mesh's mutual TLS: one service identity (its
// certificate and key, and the CA every peer is checked against) read from
// a TLS directory, and the tls.Configs built from it for a gRPC server
// (client certificates required and verified), for a client of one service
// (the peer must present a certificate naming that service) and for etcd.
// Certificates and the CA are re-read when their files change, so a renewed
// secret takes effect on the next handshake without a restart.
//
// A TLS directory holds ca.crt and either tls.crt + tls.key (one identity,
// as a Kubernetes TLS secret is mounted) or <service>/tls.crt +
// <service>/tls.key for each service (as `pdfqa certs` writes it, so one
// directory serves a whole one-process mesh).
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File names inside a TLS directory.
const (
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
	CertFile  = "tls.crt"
	KeyFile   = "tls.key"
)

// Identity is one service's certificate and the CA it trusts.
type Identity struct {
	// Name is the service the identity is for ("retrieval", ...).
	Name string
	// CertPath, KeyPath and CAPath are the files read.
	CertPath, KeyPath, CAPath string

	log *slog.Logger
	// recheck is how often at most the files are stat'ed for a change.
	recheck time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	pool    *x509.CertPool
	stamps  [3]stamp
	checked time.Time
}

type stamp struct {
	mod  time.Time
	size int64
}

// Exists reports whether dir holds a CA certificate (the sign that it is a
// TLS directory rather than a path nobody filled).
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, CAFile))
	return err == nil
}

// Load reads the identity of service from dir: <dir>/<service>/tls.{crt,key}
// when present, else <dir>/tls.{crt,key}; the CA from <dir>/<service>/ca.crt
// or <dir>/ca.crt the same way. It fails when a file is missing or
// unreadable, or the certificate does not name service.
func Load(dir, service string, log *slog.Logger) (*Identity, error) {
	if dir == "" {
		return nil, errors.New("tlsconf: no TLS directory")
	}
	if service == "" {
		return nil, errors.New("tlsconf: no service name")
	}
	if log == nil {
		log = slog.Default()
	}
	base := dir
	if _, err := os.Stat(filepath.Join(dir, service, CertFile)); err == nil {
		base = filepath.Join(dir, service)
	}
	ca := filepath.Join(base, CAFile)
	if _, err := os.Stat(ca); err != nil {
		ca = filepath.Join(dir, CAFile)
	}
	id := &Identity{Name: service, CertPath: filepath.Join(base, CertFile), KeyPath: filepath.Join(base, KeyFile), CAPath: ca,
		log: log, recheck: time.Second}
	if err := id.reload(); err != nil {
		return nil, err
	}
	if err := id.cert.Leaf.VerifyHostname(service); err != nil {
		return nil, fmt.Errorf("tlsconf: %s does not name %q (it names %v): %w", id.CertPath, service, id.cert.Leaf.DNSNames, err)
	}
	return id, nil
}

// reload reads the three files; on error the identity keeps what it had.
func (id *Identity) reload() error {
	var st [3]stamp
	for i, p := range []string{id.CertPath, id.KeyPath, id.CAPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("tlsconf: %w", err)
		}
		st[i] = stamp{fi.ModTime(), fi.Size()}
	}
	cert, err := tls.LoadX509KeyPair(id.CertPath, id.KeyPath)
	if err != nil {
		return fmt.Errorf("tlsconf: %s: %w", id.CertPath, err)
	}
	pem, err := os.ReadFile(id.CAPath)
	if err != nil {
		return fmt.Errorf("tlsconf: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("tlsconf: %s holds no PEM certificate", id.CAPath)
	}
	id.cert, id.pool, id.stamps = &cert, pool, st
	return nil
}

// current returns the certificate and CA pool, re-reading the files when
// one changed since the last look (at most once per recheck).
func (id *Identity) current() (*tls.Certificate, *x509.CertPool) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if time.Since(id.checked) < id.recheck {
		return id.cert, id.pool
	}
	id.checked = time.Now()
	changed := false
	for i, p := range []string{id.CertPath, id.KeyPath, id.CAPath} {
		fi, err := os.Stat(p)
		if err != nil || fi.ModTime() != id.stamps[i].mod || fi.Size() != id.stamps[i].size {
			changed = true
			break
		}
	}
	if changed {
		if err := id.reload(); err != nil {
			// A half-written renewal: keep serving the old pair, try again.
			id.log.Warn("TLS files changed but do not load; keeping the previous certificate", slog.String("cert", id.CertPath), slog.Any("err", err))
		} else {
			id.log.Info("TLS certificate reloaded", slog.String("cert", id.CertPath), slog.Time("not_after", id.cert.Leaf.NotAfter))
		}
	}
	return id.cert, id.pool
}

// Certificate is the identity's certificate as now loaded.
func (id *Identity) Certificate() *x509.Certificate {
	c, _ := id.current()
	return c.Leaf
}

// ServerConfig is the TLS of a gRPC server: it presents the identity's
// certificate and requires a client certificate issued by the CA.
func (id *Identity) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := id.current()
			return &tls.Config{
				MinVersion:   tls.VersionTLS13,
				NextProtos:   []string{"h2"},
				Certificates: []tls.Certificate{*cert},
				ClientCAs:    pool,
				ClientAuth:   tls.RequireAndVerifyClientCert,
			}, nil
		},
	}
}

// HTTPSConfig is the TLS of an HTTPS listener for callers outside the
// mesh (the gateway's REST front door): it presents the identity's
// certificate, re-read like the others, and asks for no client
// certificate (REST callers authenticate with API keys).
func (id *Identity) HTTPSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12, // browsers, curl and the HTTP clients of older runtimes
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, _ := id.current()
			return cert, nil
		},
	}
}

// ClientConfig is the TLS of a client of service peer: it presents the
// identity's certificate and accepts only a server certificate issued by
// the CA that names peer (a DNS SAN), whatever address it was dialed at; an
// endpoint registered as peer presenting another service's certificate is
// refused.
func (id *Identity) ClientConfig(peer string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: peer,
		// The chain and name are checked in VerifyConnection against the CA
		// as now loaded (a rotated CA takes effect without a redial), with
		// the same x509 verification the default would do.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, pool := id.current()
			return VerifyPeer(cs.PeerCertificates, pool, peer)
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _ := id.current()
			return cert, nil
		},
	}
}

// EtcdConfig is the TLS of the identity's etcd client: etcd's certificate
// must come from the CA and name the host dialed; the identity's
// certificate is presented for etcd's client-cert auth.
func (id *Identity) EtcdConfig() *tls.Config {
	_, pool := id.current()
	return &tls.Config{
		MinVersion: tls.VersionTLS12, // etcd 3.4 servers
		RootCAs:    pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _ := id.current()
			return cert, nil
		},
	}
}

// ErrWrongPeer: the peer's certificate is valid but names another service.
var ErrWrongPeer = errors.New("peer certificate names another service")

// VerifyPeer checks that chain (leaf first) was issued by roots for server
// use and names service.
func VerifyPeer(chain []*x509.Certificate, roots *x509.CertPool, service string) error {
	if len(chain) == 0 {
		return errors.New("tlsconf: the peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	leaf := chain[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("tlsconf: peer certificate %q: %w", leaf.Subject.CommonName, err)
	}
	if err := leaf.VerifyHostname(service); err != nil {
		return fmt.Errorf("tlsconf: %w: want %q, the certificate names %v", ErrWrongPeer, service, leaf.DNSNames)
	}
	return nil
}
