package s3test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// Version is the one scripts/setup/versions.env pins: the tests look for
// the binary the setup script builds.
func TestVersionIsThePinnedOne(t *testing.T) {
	if v := testenv.Versions(t)["SEAWEEDFS_VERSION"]; v != Version {
		t.Fatalf("versions.env pins SeaweedFS %q, s3test.Version is %s", v, Version)
	}
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
