package mesh

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
	"github.com/pdfqa/pdfqa/services/inference"
)

// The embedded etcd with TLS gives each certificate its CN's permissions:
// a service writes its own registrations (inference also the adapter set)
// and reads everything, but cannot write another service's registrations
// or an API key record; the client identity writes everywhere. The same
// holds after a restart on the same data (the setup is idempotent).
func TestEtcdPermissionsPerIdentity(t *testing.T) {
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	if _, err := tlsconf.WriteDev(tlsDir, tlsconf.DevOptions{Names: CertNames(), Hosts: DevHosts}); err != nil {
		t.Fatal(err)
	}
	for start := range 2 {
		e, err := StartEmbeddedTLS(filepath.Join(dir, "etcd"), "127.0.0.1:0", tlsDir)
		if err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		put := func(identity, key string) error {
			cli, err := EtcdClient([]string{e.Endpoint()}, tlsDir, identity)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := cli.Put(ctx, key, "x"); err != nil {
				return err
			}
			r, err := cli.Get(ctx, discovery.Prefix, clientv3.WithPrefix())
			if err != nil {
				t.Fatalf("%s reads %s: %v", identity, discovery.Prefix, err)
			}
			if r.Count == 0 {
				t.Fatalf("%s reads no registration", identity)
			}
			return nil
		}
		if err := put(ClientIdentity, discovery.Prefix+"gateway/seed"); err != nil {
			t.Fatalf("start %d: the client identity: %v", start, err)
		}
		for _, c := range []struct {
			identity, key string
			ok            bool
		}{
			{"retrieval", discovery.Prefix + "retrieval/own", true},
			{"retrieval", discovery.Prefix + "inference/forged", false},
			{"retrieval", discovery.Prefix + "retrievalx/forged", false},
			{"retrieval", auth.EtcdPrefix + "forged", false},
			{"gateway", auth.EtcdPrefix + "forged", false},
			{"retrieval", inference.DefaultAdapterPrefix + "forged", false},
			{"inference", inference.DefaultAdapterPrefix + "a1", true},
			{"inference", discovery.Prefix + "inference/own", true},
			{ClientIdentity, auth.EtcdPrefix + "k1", true},
		} {
			if err := put(c.identity, c.key); (err == nil) != c.ok {
				t.Errorf("start %d: %s writes %s: %v, want allowed=%v", start, c.identity, c.key, err, c.ok)
			}
		}
		e.Close()
	}
}
