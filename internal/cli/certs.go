package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

func init() {
	flagCommand("certs", "make a development CA and a certificate per service for mutual TLS: certs --dir D [--services a,b] [--hosts h1,h2] [--force]", certsCommand)
}

func certsCommand(fs *flag.FlagSet) body {
	dir := fs.String("dir", "", "directory to write ca.crt, ca.key and <name>/{tls.crt,tls.key,ca.crt} into (then PDFQA_TLS_DIR)")
	services := fs.String("services", "", "identities to issue, comma separated (default: every service, etcd and client)")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "extra SANs on every certificate: DNS names or IP addresses")
	force := fs.Bool("force", false, "overwrite certificates and keys that exist")
	return func(_ context.Context, c *call) error {
		if len(c.args) > 0 {
			return usageErr("certs takes no arguments (got %q)", c.args)
		}
		if *dir == "" {
			return usageErr("--dir is required")
		}
		names := mesh.CertNames()
		if *services != "" {
			names = splitList(*services)
			known := mesh.CertNames()
			for _, n := range names {
				if !slices.Contains(known, n) {
					return usageErr("unknown identity %q (one of %v)", n, known)
				}
			}
		}
		files, err := tlsconf.WriteDev(*dir, tlsconf.DevOptions{Names: names, Hosts: splitList(*hosts), Force: *force})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "development CA and %d certificates in %s (%d files; keys 0600):\n", len(names), *dir, len(files))
		for _, n := range names {
			fmt.Fprintf(c.stdout, "  %-10s %s/%s/%s\n", n, *dir, n, tlsconf.CertFile)
		}
		fmt.Fprintf(c.stdout, "use them with PDFQA_TLS_DIR=%s (or --tls-dir) on every service and on `pdfqa up`\n", *dir)
		return nil
	}
}
