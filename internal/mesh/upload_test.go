package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// sizedBody yields n bytes (a PDF header, then filler) without holding
// them, and counts what was read: an upload body the size of which the
// test chooses.
type sizedBody struct {
	left, read int
}

func (c *sizedBody) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.left)
	for i := range p[:k] {
		p[i] = ' '
	}
	if c.read == 0 && k >= 8 {
		copy(p, "%PDF-1.7")
	}
	c.left -= k
	c.read += k
	return k, nil
}

// uploadClient sends a REST request with key as bearer and returns the
// status and body.
func uploadClient(t *testing.T, key, method, url, ctype string, body io.Reader) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// blobsIn lists the blob files (temporary ones included) under the mesh's
// data directory.
func blobsIn(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	for _, p := range testenv.Files(t, data) {
		if strings.Contains(filepath.ToSlash(p), "/blobs/") {
			out = append(out, filepath.Base(p))
		}
	}
	slices.Sort(out)
	return out
}

type upDoc struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   string `json:"size_bytes"`
	State  string `json:"state"`
}

// TestStreamedUploadsOverREST drives the gateway's streaming upload route
// on a whole mesh: a raw application/pdf body and a multipart/form-data
// body of real PDFs become READY and searchable; bodies past the upload
// limit are refused with 413 long before the client is done and leave no
// blob and no document; a reader's key may not upload; deleting a
// document removes its blob and its passages.
func TestStreamedUploadsOverREST(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole mesh")
	}
	report := testenv.Sample(t, "northwind-annual-report-2025.pdf")
	paper := testenv.Sample(t, "tide-aware-timetables-paper.pdf")
	const limit = 4 << 20
	t.Setenv("PDFQA_MAX_UPLOAD_BYTES", fmt.Sprint(limit))
	data := t.TempDir()
	m := StartForTest(t, UpOptions{Data: data, HTTPAddr: "127.0.0.1:0", LogLevel: "error"})
	gw := "http://" + m.Gateway().HTTPAddr
	if err := testenv.WaitHTTP(gw+"/healthz", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	key := m.AdminKey
	docs := gw + "/v1/collections/streamed/documents"

	// Raw body, name from the query.
	code, b := uploadClient(t, key, "POST", docs+"?name=northwind.pdf", "application/pdf", bytes.NewReader(report))
	var raw struct{ Document upDoc }
	if code != http.StatusOK || json.Unmarshal(b, &raw) != nil || raw.Document.Name != "northwind.pdf" || raw.Document.Size != fmt.Sprint(len(report)) {
		t.Fatalf("raw upload: %d %s", code, b)
	}
	// Multipart body, name from the file part.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "tides.pdf")
	_, _ = fw.Write(paper)
	_ = mw.Close()
	code, b = uploadClient(t, key, "POST", docs, mw.FormDataContentType(), &mp)
	var multi struct{ Document upDoc }
	if code != http.StatusOK || json.Unmarshal(b, &multi) != nil || multi.Document.Name != "tides.pdf" {
		t.Fatalf("multipart upload: %d %s", code, b)
	}
	for _, d := range []upDoc{raw.Document, multi.Document} {
		waitReady(t, key, docs+"/"+d.ID)
	}
	hits := func(q string) map[string]bool {
		t.Helper()
		code, b := uploadClient(t, key, "POST", gw+"/v1/collections/streamed:search", "application/json", strings.NewReader(`{"query":`+fmt.Sprintf("%q", q)+`,"top_k":5}`))
		var res struct {
			Passages []struct {
				DocumentID string `json:"document_id"`
			}
		}
		if code != http.StatusOK || json.Unmarshal(b, &res) != nil {
			t.Fatalf("search %q: %d %s", q, code, b)
		}
		out := map[string]bool{}
		for _, p := range res.Passages {
			out[p.DocumentID] = true
		}
		return out
	}
	if !hits("Northwind Ferries revenue")[raw.Document.ID] || !hits("tide-aware timetables")[multi.Document.ID] {
		t.Fatal("a streamed document is not found by search")
	}
	before := blobsIn(t, data)
	if want := []string{raw.Document.SHA256, multi.Document.SHA256}; !slices.Equal(before, slices.Sorted(slices.Values(want))) {
		t.Fatalf("blobs %v, want the two uploads' %v", before, want)
	}

	// Past the limit: 413 while the client still has most of its 256 MiB to
	// send, and nothing stored.
	big := &sizedBody{left: 256 << 20}
	code, b = uploadClient(t, key, "POST", gw+"/v1/collections/big/documents?name=big.pdf", "application/pdf", big)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "exceeds the size limit") {
		t.Fatalf("over-limit raw upload: %d %s, want 413", code, b)
	}
	if big.read > 64<<20 {
		t.Errorf("the gateway read %d MiB of an over-limit body before refusing it", big.read>>20)
	}
	pr, pw := io.Pipe()
	mw = multipart.NewWriter(pw)
	bigPart := &sizedBody{left: 256 << 20}
	go func() {
		fw, _ := mw.CreateFormFile("file", "big.pdf")
		_, err := io.Copy(fw, bigPart)
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	code, b = uploadClient(t, key, "POST", gw+"/v1/collections/big/documents", mw.FormDataContentType(), pr)
	_ = pr.Close()
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("over-limit multipart upload: %d %s, want 413", code, b)
	}
	if after := blobsIn(t, data); !slices.Equal(after, before) {
		t.Errorf("blobs after refused uploads: %v, want %v", after, before)
	}
	if code, b := uploadClient(t, key, "GET", gw+"/v1/collections/big/documents", "", nil); code != http.StatusNotFound {
		t.Errorf("the refused uploads' collection: %d %s, want 404", code, b)
	}

	// A reader may not upload, streamed or not.
	secret, rec, err := auth.NewKey(auth.DefaultTenant, auth.Reader, "upload test", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := (auth.Etcd{Client: m.Client}).Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if code, b := uploadClient(t, secret, "POST", docs, "application/pdf", bytes.NewReader(report)); code != http.StatusForbidden {
		t.Errorf("a reader's streamed upload: %d %s, want 403", code, b)
	}

	// Deleting a document removes its blob and its passages; deleting it
	// again changes nothing and says it is not there.
	if code, b := uploadClient(t, key, "DELETE", docs+"/"+raw.Document.ID, "", nil); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, b)
	}
	if got := blobsIn(t, data); !slices.Equal(got, []string{multi.Document.SHA256}) {
		t.Errorf("blobs after the delete: %v, want only %s", got, multi.Document.SHA256)
	}
	if hits("Northwind Ferries revenue")[raw.Document.ID] {
		t.Error("a deleted document is still found by search")
	}
	if code, _ := uploadClient(t, key, "DELETE", docs+"/"+raw.Document.ID, "", nil); code != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", code)
	}
}

// waitReady polls a document until it is READY (failing on FAILED).
func waitReady(t *testing.T, key, url string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		code, b := uploadClient(t, key, "GET", url, "", nil)
		var res struct{ Document upDoc }
		if code != http.StatusOK || json.Unmarshal(b, &res) != nil {
			t.Fatalf("GET %s: %d %s", url, code, b)
		}
		switch res.Document.State {
		case "DOCUMENT_STATE_READY":
			return
		case "DOCUMENT_STATE_FAILED":
			t.Fatalf("%s failed: %s", url, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not READY in 3 minutes", url)
}
