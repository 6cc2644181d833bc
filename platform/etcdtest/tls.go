package etcdtest

import (
	"os/exec"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// TLS are the files of a cluster serving clients over TLS with client-cert
// auth: etcd presents Cert/Key and accepts only clients whose certificate
// CA issued (--client-cert-auth --trusted-ca-file).
type TLS struct {
	Cert, Key, CA string
}

func (t *TLS) args() []string {
	return []string{"--cert-file", t.Cert, "--key-file", t.Key, "--trusted-ca-file", t.CA, "--client-cert-auth"}
}

// StartTLS starts an n-member cluster whose client port speaks TLS and
// requires a client certificate from tls.CA (peers stay on plain loopback).
func StartTLS(t testing.TB, n int, tls TLS) *Cluster {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		testenv.Missing(t, "etcd binary not found: install Debian's etcd-server (scripts/setup/system.sh)")
	}
	c, err := startCluster(bin, t.TempDir(), n, &tls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}
