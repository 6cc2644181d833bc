// Package blobstore opens the mesh's blob buckets (uploaded PDFs, training
// checkpoints, adapters) by URL through gocloud.dev/blob, with the drivers
// every service links registered once, here:
//
//   - file:///dir — a directory (the default, and a shared volume in deploy);
//   - mem:// — in memory (tests);
//   - s3://bucket?endpoint=…&region=…&use_path_style=true — Amazon S3 or
//     any S3-compatible server (SeaweedFS, MinIO, Ceph RGW, R2…), with
//     credentials from the AWS SDK's default chain (AWS_ACCESS_KEY_ID /
//     AWS_SECRET_ACCESS_KEY, a profile, the pod's role). See
//     gocloud.dev/blob/s3blob for every URL parameter.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/memblob"  // mem://
	_ "gocloud.dev/blob/s3blob"   // s3://
)

// Schemes are the URL schemes Open accepts.
var Schemes = []string{"file", "mem", "s3"}

// ErrBadURL is a bucket URL Open cannot use (empty, unparsable, a scheme
// with no driver linked, an s3:// URL without a bucket).
var ErrBadURL = errors.New("blobstore: bad bucket URL")

// Check reports whether raw names a bucket Open can open, without
// opening it.
func Check(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return fmt.Errorf("%w: empty (want one of %s)", ErrBadURL, schemeList())
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	known := false
	for _, s := range Schemes {
		known = known || u.Scheme == s
	}
	if !known {
		return fmt.Errorf("%w: %q has scheme %q; want one of %s", ErrBadURL, redact(u), u.Scheme, schemeList())
	}
	if u.Scheme == "s3" && u.Host == "" {
		return fmt.Errorf("%w: %q names no bucket (s3://BUCKET?endpoint=…)", ErrBadURL, redact(u))
	}
	return nil
}

// Open opens the bucket at raw (see the package comment for the URLs).
func Open(ctx context.Context, raw string) (*blob.Bucket, error) {
	if err := Check(raw); err != nil {
		return nil, err
	}
	b, err := blob.OpenBucket(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", raw, err)
	}
	return b, nil
}

func schemeList() string { return strings.Join(Schemes, "://, ") + "://" }

// redact drops a URL's user information (never logged).
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
