package mesh

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// Identities besides the services' that a development CA issues: etcd's
// server certificate, and the one a process that is no service presents
// (the one-process mesh's shared etcd client, the CLI).
const (
	EtcdIdentity   = "etcd"
	ClientIdentity = "client"
)

// DevHosts are the extra SANs of development certificates: loopback, where
// `pdfqa up` runs everything (etcd is dialed by address).
var DevHosts = []string{"localhost", "127.0.0.1", "::1"}

// CertNames are the identities `pdfqa certs` and `pdfqa up --tls` issue:
// every service of the registry, etcd and the client.
func CertNames() []string {
	return append(Registry().Names(), EtcdIdentity, ClientIdentity)
}

// TLSDirName is the data directory's TLS folder `pdfqa up --tls` uses.
const TLSDirName = "tls"

// ensureDevCerts makes a development CA and every identity's certificate in
// dir unless it already holds a CA (a later start reuses them).
func ensureDevCerts(dir string) (created bool, err error) {
	if tlsconf.Exists(dir) {
		return false, nil
	}
	if _, err := tlsconf.WriteDev(dir, tlsconf.DevOptions{Names: CertNames(), Hosts: DevHosts}); err != nil {
		return false, err
	}
	return true, nil
}

// upTLSDir is the TLS directory of `pdfqa up` ("" for plaintext): the one
// configured, which must hold the certificates, or with --tls alone the
// data directory's, made on first start.
func upTLSDir(o UpOptions) (string, error) {
	if o.TLSDir != "" {
		if !tlsconf.Exists(o.TLSDir) {
			return "", fmt.Errorf("TLS directory %s holds no %s (make one with `pdfqa certs --dir %s`)", o.TLSDir, tlsconf.CAFile, o.TLSDir)
		}
		return o.TLSDir, nil
	}
	if !o.TLS {
		return "", nil
	}
	dir := filepath.Join(o.Data, TLSDirName)
	created, err := ensureDevCerts(dir)
	if err != nil {
		return "", fmt.Errorf("development certificates: %w", err)
	}
	if created {
		slog.Info("made a development CA and certificates", slog.String("dir", dir))
	}
	return dir, nil
}

// EtcdClient connects to etcd at endpoints; with a TLS directory over TLS,
// presenting identity's certificate (etcd's client-cert auth) and checking
// etcd's against the CA.
func EtcdClient(endpoints []string, tlsDir, identity string) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second}
	if tlsDir != "" {
		id, err := tlsconf.Load(tlsDir, identity, nil)
		if err != nil {
			return nil, err
		}
		cfg.TLS = id.EtcdConfig()
	}
	return clientv3.New(cfg)
}
