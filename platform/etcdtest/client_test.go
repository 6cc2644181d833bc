package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A Client of a started cluster writes and reads back; once its test has
// ended it is closed (a call on it fails).
func TestClient(t *testing.T) {
	c := Start(t, 1)
	var cli *clientv3.Client
	t.Run("in use", func(t *testing.T) {
		cli = Client(t, c.Endpoints(), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		r, err := cli.Get(ctx, "k")
		if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
			t.Fatalf("read back %v, %v", r, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "again"); err == nil {
		t.Fatal("the client still writes after its test ended")
	}
}
