package mesh

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// `pdfqa up --tls` with RESTTLS: the REST front door serves HTTPS with the
// gateway's certificate. A client trusting the dev CA gets /healthz (every
// service reachable), the API with the admin key and the web UI; one that
// does not trust the CA is refused by its own verification; a plaintext
// request on the port is answered 400.
func TestRESTOverHTTPS(t *testing.T) {
	data := t.TempDir()
	m := StartForTest(t, UpOptions{Data: data, HTTPAddr: "127.0.0.1:0", LogLevel: "error", TLS: true, RESTTLS: true})
	gw := m.Gateway()
	base := gw.RESTURL()
	if !gw.HTTPS || base != "https://"+gw.HTTPAddr {
		t.Fatalf("REST URL %q (HTTPS %v), want https://%s", base, gw.HTTPS, gw.HTTPAddr)
	}
	pem, err := os.ReadFile(filepath.Join(data, TLSDirName, tlsconf.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("the dev CA does not parse")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
	get := func(c *http.Client, url, key string) (*http.Response, string, error) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	// /healthz probes every instance over mTLS: wait for it.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		resp, body, err := get(hc, base+"/healthz", "")
		if err == nil && resp.StatusCode == 200 {
			if resp.TLS == nil || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "gateway") {
				t.Fatalf("/healthz over %v: the peer is not the gateway's certificate", resp.TLS)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("/healthz over %s, want HTTP/2", resp.Proto)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("https /healthz: %v %v %s", resp, err, body)
		}
	}
	if resp, body, err := get(hc, base+"/v1/collections", m.AdminKey); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/collections over HTTPS with the admin key: %v %v %s", resp, err, body)
	}
	if resp, body, err := get(hc, base+"/v1/collections", ""); err != nil || resp.StatusCode != 401 {
		t.Fatalf("GET /v1/collections over HTTPS without a key: %v %v %s, want 401", resp, err, body)
	}
	if resp, body, err := get(hc, base+"/", ""); err != nil || resp.StatusCode != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("the web UI over HTTPS: %v %v %.200s", resp, err, body)
	}
	// A client without the dev CA refuses the certificate.
	var unknown x509.UnknownAuthorityError
	if _, _, err := get(&http.Client{Timeout: 10 * time.Second}, base+"/healthz", ""); !errors.As(err, &unknown) {
		t.Fatalf("a client without the dev CA: %v, want an unknown authority error", err)
	}
	// Plain HTTP on the HTTPS port is refused with a clear answer.
	resp, body, err := get(&http.Client{Timeout: 10 * time.Second}, "http://"+gw.HTTPAddr+"/healthz", "")
	if err != nil || resp.StatusCode != 400 || !strings.Contains(body, "HTTPS") {
		t.Fatalf("plain HTTP on the HTTPS port: %v %v %q, want 400 naming HTTPS", resp, err, body)
	}
}
