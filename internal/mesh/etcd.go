package mesh

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// Embedded is an etcd server running inside this process.
type Embedded struct {
	e        *embed.Etcd
	endpoint string
}

// StartEmbedded starts a single-node etcd storing its data in dir, serving
// clients on clientAddr (127.0.0.1:0 picks a free port).
func StartEmbedded(dir, clientAddr string) (*Embedded, error) {
	return StartEmbeddedTLS(dir, clientAddr, "")
}

// StartEmbeddedTLS is StartEmbedded serving clients over TLS with the etcd
// identity of tlsDir and client-cert auth: only clients presenting a
// certificate from its CA are served ("" : plaintext), each with the
// permissions of its certificate's CN (ensureEtcdAuth).
func StartEmbeddedTLS(dir, clientAddr, tlsDir string) (*Embedded, error) {
	if clientAddr == "" {
		clientAddr = "127.0.0.1:0"
	}
	scheme := "http"
	if tlsDir != "" {
		scheme = "https"
	}
	cu, err := freeURL(clientAddr, scheme)
	if err != nil {
		return nil, err
	}
	pu, err := freeURL("127.0.0.1:0", "http")
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "pdfqa"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	cfg.ClusterState = embed.ClusterStateFlagNew
	// etcd's own zap logs would interleave with ours; failures still surface
	// through e.Err() and StartEtcd's error.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.ListenMetricsUrls = nil
	if tlsDir != "" {
		id, err := tlsconf.Load(tlsDir, EtcdIdentity, nil)
		if err != nil {
			return nil, fmt.Errorf("embedded etcd: %w", err)
		}
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: id.CertPath, KeyFile: id.KeyPath, TrustedCAFile: id.CAPath, ClientCertAuth: true}
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd: not ready after 60s")
	}
	if tlsDir != "" {
		if err := ensureEtcdAuth(cu.Host, tlsDir); err != nil {
			e.Close()
			return nil, fmt.Errorf("embedded etcd: %w", err)
		}
	}
	return &Embedded{e: e, endpoint: cu.Host}, nil
}

// Endpoint is the client address (host:port).
func (m *Embedded) Endpoint() string { return m.endpoint }

// Close stops etcd.
func (m *Embedded) Close() { m.e.Close() }

// freeURL resolves a :0 port to a concrete free one (etcd needs real URLs).
func freeURL(addr, scheme string) (*url.URL, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if port == "0" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		addr = l.Addr().String()
		l.Close()
	} else {
		addr = net.JoinHostPort(host, port)
	}
	return url.Parse(scheme + "://" + addr)
}
