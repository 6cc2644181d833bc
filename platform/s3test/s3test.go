// Package s3test starts a real S3-compatible server for tests: SeaweedFS's
// `weed mini` (master, volume, filer and S3 gateway in one process) from
// the binary scripts/setup/s3.sh builds into the cache: PDFQA_WEED, else
// $PDFQA_CACHE/seaweedfs/<Version>/weed. It listens on 127.0.0.1 only and
// signs requests for one identity, whose keys Start puts into the
// process environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), where the
// AWS SDK's default chain — what the services use — finds them.
//
// A package's tests share one server (started on first use, stopped by
// Main or Cleanup) and get a fresh bucket each (BucketURL). When the
// binary is missing the test fails under CI (CI=true) and is skipped
// elsewhere, saying to run scripts/setup/s3.sh — as platform/pgtest does.
package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// Version is the SeaweedFS module version scripts/setup/versions.env pins
// (SEAWEEDFS_VERSION).
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// The identity the server accepts, and the region requests are signed for.
const (
	AccessKey = "pdfqa-test"
	SecretKey = "pdfqa-test-secret-key"
	Region    = "us-east-1"
)

// Binary returns the weed binary, or an error saying how to build it.
func Binary() (string, error) {
	bin := config.Env("PDFQA_WEED", filepath.Join(config.DefaultCache(), "seaweedfs", Version, "weed"))
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("s3test: no SeaweedFS weed at %s (run scripts/setup/s3.sh): %w", bin, err)
	}
	return bin, nil
}

// Server is one running SeaweedFS, its data in a temporary directory.
type Server struct {
	dir    string
	port   int // the S3 endpoint's
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
	client *s3.Client
}

// startTimeout bounds a start: the server's components come up one after
// another (master, volume, filer, S3) and register with each other.
const startTimeout = 2 * time.Minute

// Start starts a server on free loopback ports and waits until its S3
// endpoint answers signed requests. It sets the identity's keys in the
// process environment.
func Start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var last error
	// A port picked free may be taken before weed binds it: try new ones.
	for range 3 {
		s, err := start(bin)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "pdfqa-s3-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, exited: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		s.Close()
		return nil, err
	}
	ports := make([]int, 8)
	for i := range ports {
		if ports[i], err = testenv.FreePort(); err != nil {
			return fail(err)
		}
	}
	s.port = ports[6]
	conf := filepath.Join(dir, "s3.json")
	identities := map[string]any{"identities": []any{map[string]any{
		"name":        "pdfqa",
		"credentials": []any{map[string]string{"accessKey": AccessKey, "secretKey": SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	b, _ := json.Marshal(identities)
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return fail(err)
	}
	p := strconv.Itoa
	args := []string{"mini", "-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + p(ports[0]), "-master.port.grpc=" + p(ports[1]),
		"-volume.port=" + p(ports[2]), "-volume.port.grpc=" + p(ports[3]),
		"-filer.port=" + p(ports[4]), "-filer.port.grpc=" + p(ports[5]),
		"-s3.port=" + p(ports[6]), "-s3.port.grpc=" + p(ports[7]),
		"-s3.config=" + conf, "-s3.autoCreateBucket=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"), "-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
		"-webdav=false", "-admin.ui=false", "-master.telemetry=false",
		"-master.volumeSizeLimitMB=64"}
	if s.log, err = os.Create(filepath.Join(dir, "weed.log")); err != nil {
		return fail(err)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Its own process group, so Close stops every process it started.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("s3test: start %s: %w", bin, err))
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()

	s.client = s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		return fail(fmt.Errorf("s3test: SeaweedFS did not come up: %w\n%s", err, s.Log()))
	}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey,
		"AWS_REGION": Region, "AWS_EC2_METADATA_DISABLED": "true"} {
		os.Setenv(k, v)
	}
	return s, nil
}

// waitReady creates and deletes a probe bucket: that needs the S3 gateway,
// the filer behind it and the identity loaded.
func (s *Server) waitReady(ctx context.Context) error {
	var last error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("weed exited: %v", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.client.CreateBucket(cctx, &s3.CreateBucketInput{Bucket: aws.String("probe")})
		if err == nil {
			_, err = s.client.DeleteBucket(cctx, &s3.DeleteBucketInput{Bucket: aws.String("probe")})
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
	}
}

// Endpoint is the S3 endpoint's URL.
func (s *Server) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// Client is an S3 client signed as the server's identity.
func (s *Server) Client() *s3.Client { return s.client }

// URL is the gocloud.dev s3blob URL of bucket on this server.
func (s *Server) URL(bucket string) string {
	q := url.Values{"endpoint": {s.Endpoint()}, "region": {Region}, "use_path_style": {"true"}}
	return "s3://" + bucket + "?" + q.Encode()
}

var bucketSeq atomic.Int64

// CreateBucket creates a new, empty bucket and returns its name.
func (s *Server) CreateBucket(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d-%d", os.Getpid(), bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return "", fmt.Errorf("s3test: create bucket %s: %w", name, err)
	}
	return name, nil
}

// Keys lists every object key in bucket.
func (s *Server) Keys(ctx context.Context, bucket string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Log is what the server printed.
func (s *Server) Log() []byte {
	b, _ := os.ReadFile(filepath.Join(s.dir, "weed.log"))
	const tail = 8 << 10
	if len(b) > tail {
		b = append([]byte("…"), b[len(b)-tail:]...)
	}
	return bytes.TrimSpace(b)
}

// Close stops the server (its whole process group) and removes its data.
func (s *Server) Close() error {
	var err error
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
			err = errors.New("s3test: weed ignored SIGTERM for 10s")
		}
	}
	if s.log != nil {
		s.log.Close()
	}
	os.RemoveAll(s.dir)
	return err
}

// shared is the package's tests' server.
var shared = &testenv.SharedServer[*Server]{What: "S3 server unavailable", Start: Start}

// Shared returns the package's shared server, starting it on first use;
// when it cannot start the test fails under CI and is skipped elsewhere.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Get(t)
}

// BucketURL returns the s3blob URL of a fresh bucket on the package's
// shared server.
func BucketURL(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	name, err := s.CreateBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.URL(name)
}

// BucketKeys lists every object key of the bucket behind bucketURL (a
// BucketURL) on the package's shared server; what cannot be listed fails
// the test.
func BucketKeys(t testing.TB, bucketURL string) []string {
	t.Helper()
	u, err := url.Parse(bucketURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := Shared(t).Keys(ctx, u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Main runs the package's tests and then stops the shared server; call it
// from TestMain.
func Main(m *testing.M) { shared.Main(m) }

// Cleanup stops the shared server (for a TestMain that does more than Main).
func Cleanup() { shared.Close() }
