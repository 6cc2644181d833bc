package s3test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// Version is the one scripts/setup/versions.env pins: the tests look for
// the binary the setup script builds.
func TestVersionIsThePinnedOne(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "scripts", "setup", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SEAWEEDFS_VERSION="); ok {
			if v != Version {
				t.Fatalf("versions.env pins SeaweedFS %s, s3test.Version is %s", v, Version)
			}
			return
		}
	}
	t.Fatal("versions.env pins no SEAWEEDFS_VERSION")
}

// A missing binary is an error that says how to build it.
func TestMissingBinarySaysHowToBuildIt(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("PDFQA_WEED", "")
	t.Setenv("PDFQA_CACHE", cache)
	want := filepath.Join(cache, "seaweedfs", Version, "weed")
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "no SeaweedFS weed at "+want+" (run scripts/setup/s3.sh)") {
		t.Fatalf("Binary() = %v; want it to name %s", err, want)
	}
	t.Setenv("PDFQA_WEED", filepath.Join(t.TempDir(), "weed"))
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "run scripts/setup/s3.sh") {
		t.Fatalf("Binary() = %v", err)
	}
	if _, err := Start(); err == nil || !strings.Contains(err.Error(), "run scripts/setup/s3.sh") {
		t.Fatalf("Start() = %v", err)
	}
}
