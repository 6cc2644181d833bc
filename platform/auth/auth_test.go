package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := NewMem()
	put := func(tenant string, r Role, ttl time.Duration) (string, Key) {
		s, k, err := NewKey(tenant, r, "", ttl, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, k); err != nil {
			t.Fatal(err)
		}
		return s, k
	}
	good, gk := put("acme", Writer, 0)
	short, _ := put("acme", Reader, time.Hour)
	gone, rk := put("acme", Admin, 0)
	if _, err := Revoke(ctx, st, rk.ID, now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Hour)
	v := &Verifier{Store: st, ServiceToken: "pdfqa-mesh_t", Now: func() time.Time { return later }}
	if gk.Hash == "" || gk.Hash == good {
		t.Fatalf("stored %q: want the hash, never the key", gk.Hash)
	}
	p, err := v.Verify(ctx, good, nil)
	if err != nil || p != (Principal{Tenant: "acme", Role: Writer, KeyID: gk.ID}) {
		t.Fatalf("valid key: %+v %v", p, err)
	}
	for name, tok := range map[string]string{"empty": "", "malformed": "x", "revoked": gone, "expired": short,
		"tampered": good[:len(good)-1] + "A"} {
		if _, err := v.Verify(ctx, tok, nil); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrUnauthenticated", name, err)
		}
	}
	// Only the service token may assert a principal.
	md := metadata.Pairs(MDTenant, "beta", MDRole, "reader", MDKey, "k1")
	if p, err := v.Verify(ctx, good, md); err != nil || p.Tenant != "acme" || p.Peer {
		t.Errorf("a key asserting beta: %+v %v, want its own tenant", p, err)
	}
	if p, err := v.Verify(ctx, "pdfqa-mesh_t", md); err != nil || p != (Principal{Tenant: "beta", Role: Reader, KeyID: "k1", Peer: true}) {
		t.Errorf("peer: %+v %v", p, err)
	}
	if _, err := v.Verify(ctx, "pdfqa-mesh_t", metadata.Pairs(MDTenant, "Bad Tenant!", MDRole, "reader")); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("peer asserting a malformed tenant: %v", err)
	}
}

func TestPolicyFailsClosed(t *testing.T) {
	p := Policy{Methods: map[string]Role{"/a.S/Get": Reader, "/a.T/": Writer}}
	for m, want := range map[string]Role{"/a.S/Get": Reader, "/a.T/Any": Writer, "/a.S/Other": Admin, "/z.Q/X": Admin} {
		if got := p.Need(m); got != want {
			t.Errorf("%s: %v, want %v", m, got, want)
		}
	}
	ctx := WithPrincipal(context.Background(), Principal{Tenant: "a", Role: Writer})
	if Require(ctx, Admin) == nil || Require(ctx, Writer) != nil {
		t.Error("Require does not order roles")
	}
}
