package tlsconf

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pdfqa/pdfqa/platform/etcdtest"
)

// A real etcd with --client-cert-auth: a client presenting a certificate
// from the CA reads and writes; one without a certificate, or with another
// CA's, is refused and writes nothing.
func TestEtcdClientCertAuth(t *testing.T) {
	dir := dev(t, "etcd", "retrieval")
	other := dev(t, "retrieval")
	e := etcdtest.StartTLS(t, 1, etcdtest.TLS{
		Cert: filepath.Join(dir, "etcd", CertFile), Key: filepath.Join(dir, "etcd", KeyFile), CA: filepath.Join(dir, CAFile)})
	put := func(name string, cfg clientv3.Config) error {
		cfg.Endpoints, cfg.DialTimeout = e.Endpoints(), 2*time.Second
		cli, err := clientv3.New(cfg)
		if err != nil {
			return err
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err = cli.Put(ctx, "pdfqa/test/"+name, name)
		return err
	}
	good := load(t, dir, "retrieval")
	if err := put("good", clientv3.Config{TLS: good.EtcdConfig()}); err != nil {
		t.Fatalf("client with the CA's certificate: %v", err)
	}
	noCert := good.EtcdConfig()
	noCert.GetClientCertificate = nil
	if err := put("nocert", clientv3.Config{TLS: noCert}); err == nil {
		t.Fatal("a client without a certificate wrote to etcd")
	}
	foreign := load(t, other, "retrieval").EtcdConfig()
	foreign.RootCAs = noCert.RootCAs // it trusts etcd; etcd must not trust it
	if err := put("foreign", clientv3.Config{TLS: foreign}); err == nil {
		t.Fatal("a client with another CA's certificate wrote to etcd")
	}
	if err := put("plain", clientv3.Config{}); err == nil {
		t.Fatal("a plaintext client wrote to etcd")
	}
	cli := etcdtest.Client(t, e.Endpoints(), good.EtcdConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cli.Get(ctx, "pdfqa/test/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "good" {
		t.Fatalf("etcd holds %v, want only the authenticated client's key", r.Kvs)
	}
}
