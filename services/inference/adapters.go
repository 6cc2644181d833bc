package inference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/blobstore"
)

var adapterName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// adapters is the registry of LoRA adapters, persisted so a restarted service
// serves the same set. Ids are positions in the engine's adapter list. Every
// method takes the registry's own lock; no caller touches mu or list.
type adapters struct {
	mu   sync.Mutex
	file string
	list []*inferencev1.Adapter // engine order
}

// applyFunc tells the engine the new adapter set (paths in id order).
type applyFunc func(ctx context.Context, paths []string) error

func loadAdapters(file string) (*adapters, error) {
	a := &adapters{file: file}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	var list []*inferencev1.Adapter
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("adapters registry %s: %w", file, err)
	}
	for _, x := range list {
		if x.GetSha256() == "" { // written before adapters carried their digest
			x.Sha256, _ = blobstore.FileSHA256(x.GetPath()) // unreadable: stays empty, and such an entry is dropped or replaced later
		}
	}
	a.list = list
	return a, nil
}

// adapterVersion matches an Adapter.sha256 as a precondition names it.
var adapterVersion = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkVersion is an unload's precondition: that the adapter called name,
// whose version (digest) is have, is the version want ("": any).
func checkVersion(name, have, want string) error {
	if want == "" || have == want {
		return nil
	}
	if have == "" {
		have = "unknown"
	}
	return fmt.Errorf("%w: adapter %q is now the version with sha256 %s, not %s (it was replaced since it was read); nothing was unloaded: list the adapters and unload again if that one should go", ErrConflict, name, have, want)
}

func adapterPaths(list []*inferencev1.Adapter) []string {
	p := make([]string, len(list))
	for i, x := range list {
		p[i] = x.Path
	}
	return p
}

// paths are the loaded adapters' files in engine order (the engine's
// startup set).
func (a *adapters) paths() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return adapterPaths(a.list)
}

// keepUnder drops the adapters whose file is not under dir (logged): a
// registry written before adapters were confined to a root may name any
// file on the host.
func (a *adapters) keepUnder(dir string, log *slog.Logger) {
	a.mu.Lock()
	defer a.mu.Unlock()
	abs, err := filepath.Abs(dir)
	if err == nil {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
	}
	kept := a.list[:0:0]
	for _, x := range a.list {
		p, err := filepath.EvalSymlinks(x.Path)
		if err == nil && within(abs, p) {
			kept = append(kept, x)
			continue
		}
		log.Warn("adapter outside the adapter root is no longer served; publish or upload it again", "name", x.Name, "path", x.Path, "root", abs)
	}
	a.list = kept
}

// put adds (or replaces) ad. The engine is told first; a set it refuses
// leaves the previous one serving and the registry unchanged.
func (a *adapters) put(ctx context.Context, ad *inferencev1.Adapter, apply applyFunc) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.change(ctx, a.with(ad), apply)
}

// remove drops the adapter called name, like put; with want, only while
// that adapter is the version with the digest want (ErrConflict naming the
// current one otherwise). The check and the removal are one step under
// a.mu, so no load in between is ever removed.
func (a *adapters) remove(ctx context.Context, name, want string, apply applyFunc) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	next, found := a.without(name)
	if !found {
		return fmt.Errorf("%w: %q", ErrAdapterNotFound, name)
	}
	for _, x := range a.list {
		if x.Name == name {
			if err := checkVersion(name, x.GetSha256(), want); err != nil {
				return err
			}
		}
	}
	return a.change(ctx, next, apply)
}

// change applies next to the engine, then commits it; a.mu is held.
func (a *adapters) change(ctx context.Context, next []*inferencev1.Adapter, apply applyFunc) error {
	if err := apply(ctx, adapterPaths(next)); err != nil {
		return err
	}
	return a.commit(next)
}

// with returns the list after adding (or replacing) ad; a.mu is held.
func (a *adapters) with(ad *inferencev1.Adapter) []*inferencev1.Adapter {
	out := make([]*inferencev1.Adapter, 0, len(a.list)+1)
	replaced := false
	for _, x := range a.list {
		if x.Name == ad.Name {
			out = append(out, ad)
			replaced = true
		} else {
			out = append(out, x)
		}
	}
	if !replaced {
		out = append(out, ad)
	}
	return out
}

// without returns the list after removing name; a.mu is held.
func (a *adapters) without(name string) ([]*inferencev1.Adapter, bool) {
	var out []*inferencev1.Adapter
	found := false
	for _, x := range a.list {
		if x.Name == name {
			found = true
			continue
		}
		out = append(out, x)
	}
	return out, found
}

// commit makes list current and persists it; a.mu is held.
func (a *adapters) commit(list []*inferencev1.Adapter) error {
	a.list = list
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.file), 0o755); err != nil {
		return err
	}
	tmp := a.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, a.file)
}

// lookup returns the engine id and scale of an adapter.
func (a *adapters) lookup(name string) (int, float32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.list {
		if x.Name == name {
			return i, x.Scale, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: %q (ListAdapters shows the loaded ones)", ErrAdapterNotFound, name)
}

func (a *adapters) snapshot() []*inferencev1.Adapter {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]*inferencev1.Adapter(nil), a.list...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
