package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DevOptions say what a development CA signs.
type DevOptions struct {
	// Names are the identities to issue, one certificate each, named by
	// their DNS SAN (the service's registry name, "etcd", ...).
	Names []string
	// Hosts are extra SANs on every certificate: an IP address becomes an
	// IP SAN, anything else a DNS SAN.
	Hosts []string
	// Force overwrites files that exist; without it nothing is written
	// when one does.
	Force bool
	// Validity of the certificates (default one year; the CA: ten).
	Validity time.Duration
	// Now is the issue time (default time.Now).
	Now time.Time
}

// WriteDev makes a development CA in dir (ca.crt, ca.key) and, for each of
// o.Names, <dir>/<name>/{tls.crt,tls.key,ca.crt}: an ECDSA P-256 key and a
// certificate for both server and client use, its SANs the name plus
// o.Hosts. Keys are written 0600. It returns the files written.
func WriteDev(dir string, o DevOptions) ([]string, error) {
	if len(o.Names) == 0 {
		return nil, errors.New("tlsconf: no identities to issue")
	}
	seen := map[string]bool{}
	for _, n := range o.Names {
		if err := validName(n); err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("tlsconf: %q listed twice", n)
		}
		seen[n] = true
	}
	for _, h := range o.Hosts {
		if net.ParseIP(h) == nil && validName(h) != nil {
			return nil, fmt.Errorf("tlsconf: host %q is neither an IP address nor a DNS name", h)
		}
	}
	if o.Validity <= 0 {
		o.Validity = 365 * 24 * time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	files := []string{filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)}
	for _, n := range o.Names {
		files = append(files, filepath.Join(dir, n, CertFile), filepath.Join(dir, n, KeyFile), filepath.Join(dir, n, CAFile))
	}
	if !o.Force {
		for _, f := range files {
			if _, err := os.Stat(f); err == nil {
				return nil, fmt.Errorf("tlsconf: %s exists (--force overwrites)", f)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("tlsconf: %w", err)
			}
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "pdfqa development CA", Organization: []string{"pdfqa"}},
		NotBefore:             o.Now.Add(-time.Hour),
		NotAfter:              o.Now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), caKey); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, CAFile), caPEM, 0o644); err != nil {
		return nil, err
	}
	for _, n := range o.Names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: n, Organization: []string{"pdfqa"}},
			NotBefore:    o.Now.Add(-time.Hour),
			NotAfter:     o.Now.Add(o.Validity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames:     []string{n},
		}
		for _, h := range o.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else if h != n {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("tlsconf: %s: %w", n, err)
		}
		sub := filepath.Join(dir, n)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		if err := writeKey(filepath.Join(sub, KeyFile), key); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(sub, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(sub, CAFile), caPEM, 0o644); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// writeKey writes key as a PKCS#8 PEM file only its owner reads (also when
// it existed with wider permissions).
func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}

// validName accepts a DNS name: labels of letters, digits and hyphens.
func validName(n string) error {
	if n == "" || len(n) > 253 {
		return fmt.Errorf("tlsconf: %q is not a DNS name", n)
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("tlsconf: %q is not a DNS name", n)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("tlsconf: %q is not a DNS name", n)
			}
		}
	}
	return nil
}
