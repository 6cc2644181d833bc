package parse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

func newTestProcess(t *testing.T, instances int) *Process {
	t.Helper()
	p, err := NewProcess(Config{Instances: instances, CacheDir: os.Getenv("PDFQA_WAZERO_CACHE")})
	if err != nil {
		t.Fatalf("NewProcess: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

var (
	sharedProcOnce sync.Once
	sharedProc     *Process
	sharedProcErr  error
)

// testProcess is a process parser shared by the tests that do not kill
// workers.
func testProcess(t *testing.T) *Process {
	t.Helper()
	sharedProcOnce.Do(func() {
		sharedProc, sharedProcErr = NewProcess(Config{Instances: 2, CacheDir: os.Getenv("PDFQA_WAZERO_CACHE")})
	})
	if sharedProcErr != nil {
		t.Fatalf("NewProcess: %v", sharedProcErr)
	}
	return sharedProc
}

// slowPDF has many pages of dense text (one shared content stream), so that
// parsing it takes seconds while the file stays small.
func slowPDF(pages int) []byte {
	var c bytes.Buffer
	line := strings.Repeat("Dense text to keep PDFium busy for a while. ", 3)
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&c, "BT /F1 8 Tf 20 %d Td (%s) Tj ET\n", 770-i*12, line)
	}
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		stream("", c.Bytes())}
	var kids []string
	for i := 0; i < pages; i++ {
		kids = append(kids, fmt.Sprintf("%d 0 R", len(objs)+1))
		objs = append(objs, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>")
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages)
	objs = append(objs, "<< /Title (slow) >>")
	return pdftest.Assemble(objs)
}

// normDoc maps empty slices to nil (gob does not tell them apart; no
// consumer does either) so documents can be compared with DeepEqual.
func normDoc(d *Document) *Document {
	c := *d
	c.Pages = nilIfEmpty(slices.Clone(c.Pages))
	c.Warnings = nilIfEmpty(c.Warnings)
	for i := range c.Pages {
		pg := &c.Pages[i]
		pg.Warnings = nilIfEmpty(pg.Warnings)
		pg.Lines = nilIfEmpty(slices.Clone(pg.Lines))
		for j := range pg.Lines {
			l := &pg.Lines[j]
			l.Words = nilIfEmpty(slices.Clone(l.Words))
			for k := range l.Words {
				l.Words[k].Chars = nilIfEmpty(l.Words[k].Chars)
			}
		}
		pg.Tables = nilIfEmpty(slices.Clone(pg.Tables))
		for j := range pg.Tables {
			tb := &pg.Tables[j]
			tb.Header = nilIfEmpty(tb.Header)
			tb.Rows = nilIfEmpty(slices.Clone(tb.Rows))
			for k := range tb.Rows {
				tb.Rows[k] = nilIfEmpty(tb.Rows[k])
			}
		}
	}
	return &c
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestProcessMatchesInProcess(t *testing.T) {
	inproc, proc := testParser(t), testProcess(t)
	type input struct {
		name string
		data []byte
		opts Options
	}
	inputs := []input{
		{"synthetic-chars", textPDF("boxes", []textItem{{72, 720, 12, "First line here,"}, {72, 700, 12, "second line."}, {300, 700, 12, "Right"}}), Options{IncludeChars: true}},
		{"synthetic-truncated", slowPDF(5), Options{MaxPages: 2}},
	}
	for _, f := range []struct {
		path string
		opts Options
	}{
		{"pdf-samples/011-google-doc-document/google-doc-document.pdf", Options{OCR: OCROff}},
		{"pdf-samples/005-libreoffice-writer-password/libreoffice-writer-password.pdf", Options{OCR: OCROff, Password: "openpassword"}},
		{"pdf-samples/015-arabic/habibi.pdf", Options{OCR: OCROff}},
		{"pdf-samples/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf", Options{OCR: OCROff, MaxPages: 30}},
	} {
		inputs = append(inputs, input{filepath.Base(f.path), testenv.ReadData(t, filepath.FromSlash(f.path)), f.opts})
	}
	calls := testenv.GlobData(t, "dev", "earnings-calls", "*.pdf")
	b, err := os.ReadFile(calls[0])
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, input{filepath.Base(calls[0]), b, Options{}})
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			want, err := inproc.Parse(context.Background(), in.data, in.opts)
			if err != nil {
				t.Fatalf("in-process: %v", err)
			}
			got, err := proc.Parse(context.Background(), in.data, in.opts)
			if err != nil {
				t.Fatalf("process: %v", err)
			}
			if len(got.Pages) == 0 || got.Pages[0].Number != 1 {
				t.Fatalf("process: empty document %v", got)
			}
			if !reflect.DeepEqual(normDoc(want), normDoc(got)) {
				t.Fatalf("process result differs from in-process:\nin-process %v\nprocess    %v\npage 1 in-process %q\npage 1 process    %q",
					want, got, want.Pages[0].Text, got.Pages[0].Text)
			}
		})
	}
	// ParseReaderAt goes through the same path.
	data := textPDF("r", []textItem{{72, 700, 12, "reader at"}})
	doc, err := proc.ParseReaderAt(context.Background(), bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil || doc.Pages[0].Text != "reader at" {
		t.Fatalf("ParseReaderAt: %v %v", doc, err)
	}
}

func TestProcessTypedErrors(t *testing.T) {
	inproc, proc := testParser(t), testProcess(t)
	good := textPDF("t", []textItem{{72, 700, 12, "Hello typed errors"}})
	var five [][]textItem
	for i := 0; i < 5; i++ {
		five = append(five, []textItem{{72, 700, 12, fmt.Sprintf("Page %d", i+1)}})
	}
	cases := []struct {
		name string
		data []byte
		opts Options
		want []error
	}{
		{"not-a-pdf", []byte("<html></html>"), Options{}, []error{ErrNotPDF, ErrInvalidPDF}},
		{"truncated", good[:len(good)/3], Options{}, []error{ErrInvalidPDF}},
		{"zero-pages", pdftest.Assemble([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>", "<< >>"}), Options{}, []error{ErrNoPages, ErrInvalidPDF}},
		{"too-many-pages", textPDF("five", five...), Options{MaxPages: 2, FailOnTooManyPages: true}, []error{ErrTooManyPages}},
		{"too-large", good, Options{MaxBytes: 100}, []error{ErrTooLarge}},
	}
	enc := testenv.ReadData(t, "pdf-samples", "005-libreoffice-writer-password", "libreoffice-writer-password.pdf")
	cases = append(cases,
		struct {
			name string
			data []byte
			opts Options
			want []error
		}{"encrypted-no-password", enc, Options{OCR: OCROff}, []error{ErrEncrypted}},
		struct {
			name string
			data []byte
			opts Options
			want []error
		}{"encrypted-wrong-password", enc, Options{OCR: OCROff, Password: "wrong"}, []error{ErrEncrypted}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, werr := inproc.Parse(context.Background(), c.data, c.opts)
			_, err := proc.Parse(context.Background(), c.data, c.opts)
			for _, want := range c.want {
				if !errors.Is(err, want) {
					t.Fatalf("got %v, want errors.Is %v", err, want)
				}
			}
			for _, other := range []error{ErrTimeout, ErrEngine, ErrClosed} {
				if errors.Is(err, other) {
					t.Fatalf("%v also matches %v", err, other)
				}
			}
			if werr == nil || err.Error() != werr.Error() {
				t.Fatalf("message %q, in-process %q", err, werr)
			}
		})
	}
}

func pidAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitGone waits until the pool has reaped its worker pid: signal 0 reaches
// a zombie, so it fails only once Wait has run, i.e. once the pool knows
// the worker died. (proc.WaitGone counts a zombie as gone: a call made then
// could still be handed the dead worker.)
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); pidAlive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("worker %d still alive", pid)
		}
	}
}

// onePID returns the pool's only worker, waiting for a replacement.
func onePID(t *testing.T, p *Process) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if pids := p.workerPIDs(); len(pids) == 1 {
			return pids[0]
		} else if len(pids) > 1 {
			t.Fatalf("pool of one has workers %v", pids)
		}
		if time.Now().After(deadline) {
			t.Fatal("no worker")
		}
	}
}

func TestProcessTimeoutKillsWorker(t *testing.T) {
	p := newTestProcess(t, 1)
	pid := onePID(t, p)
	start := time.Now()
	_, err := p.Parse(context.Background(), slowPDF(1000), Options{Timeout: 300 * time.Millisecond, OCR: OCROff})
	el := time.Since(start)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout wrapping DeadlineExceeded, got %v", err)
	}
	if el > 2*time.Second {
		t.Fatalf("timeout took %v", el)
	}
	waitGone(t, pid)
	doc, err := p.Parse(context.Background(), textPDF("x", []textItem{{72, 700, 12, "still alive"}}), Options{})
	if err != nil || doc.Pages[0].Text != "still alive" {
		t.Fatalf("after kill: %v %v", doc, err)
	}
	if np := onePID(t, p); np == pid {
		t.Fatalf("worker %d was not replaced", pid)
	}
	// The caller's context is honoured too.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := p.Parse(ctx, slowPDF(1000), Options{}); !errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Fatalf("caller deadline: %v after %v", err, time.Since(start))
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := p.Parse(ctx, slowPDF(2), Options{}); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestProcessWorkerKilledFromOutside(t *testing.T) {
	p := newTestProcess(t, 1)
	pid := onePID(t, p)
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := p.Parse(context.Background(), slowPDF(1000), Options{OCR: OCROff})
		errc <- err
	}()
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("want ErrEngine naming the kill, got %v", err)
		}
		t.Logf("after %v: %v", time.Since(start), err)
	case <-time.After(5 * time.Second):
		t.Fatal("parse did not notice the dead worker")
	}
	doc, err := p.Parse(context.Background(), textPDF("x", []textItem{{72, 700, 12, "recovered"}}), Options{})
	if err != nil || doc.Pages[0].Text != "recovered" {
		t.Fatalf("after kill: %v %v", doc, err)
	}
	// A worker that dies while idle is replaced without failing a call.
	pid = onePID(t, p)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if _, err := p.Parse(context.Background(), textPDF("x", []textItem{{72, 700, 12, "again"}}), Options{}); err != nil {
		t.Fatalf("after idle kill: %v", err)
	}
}

func TestProcessRenderPNG(t *testing.T) {
	inproc, proc := testParser(t), testProcess(t)
	data := textPDF("render", []textItem{{72, 700, 24, "Render me"}})
	want, ww, wh, err := inproc.RenderPNG(context.Background(), data, "", 1, 50)
	if err != nil {
		t.Fatal(err)
	}
	got, w, h, err := proc.RenderPNG(context.Background(), data, "", 1, 50)
	if err != nil {
		t.Fatal(err)
	}
	if w != ww || h != wh || !bytes.Equal(got, want) {
		t.Fatalf("render %dx%d (%d bytes), in-process %dx%d (%d bytes)", w, h, len(got), ww, wh, len(want))
	}
	if _, _, _, err := proc.RenderPNG(context.Background(), data, "", 2, 50); !errors.Is(err, ErrPageRange) {
		t.Fatalf("want ErrPageRange, got %v", err)
	}
}

func TestProcessClose(t *testing.T) {
	p, err := NewProcess(Config{Instances: 2, CacheDir: os.Getenv("PDFQA_WAZERO_CACHE")})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Parse(context.Background(), slowPDF(1000), Options{})
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	pids := p.workerPIDs()
	start := time.Now()
	p.Close()
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Close took %v", el)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("in-flight parse: want ErrClosed, got %v", err)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if _, err := p.Parse(context.Background(), slowPDF(1), Options{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestProcessUnwiredExecutable: a binary that does not serve as a worker
// (here /bin/echo, which prints its args and exits) fails the handshake
// quickly with a hint, and a would-be worker never recurses.
func TestProcessUnwiredExecutable(t *testing.T) {
	echo := "/bin/echo"
	if _, err := os.Stat(echo); err != nil {
		t.Skip(err)
	}
	p := &Process{cfg: Config{Instances: 1}, exe: echo, slots: make(chan *slot, 1), done: make(chan struct{}), live: map[*worker]struct{}{}}
	start := time.Now()
	_, err := p.start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "RunWorkerIfRequested") {
		t.Fatalf("want a handshake error with a hint, got %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
	if testing.Verbose() {
		t.Log(err)
	}
	if len(p.workerPIDs()) != 0 {
		t.Fatal("failed worker still listed")
	}
	t.Setenv(WorkerEnv, "1")
	if _, err := NewProcess(Config{}); err == nil {
		t.Fatal("NewProcess inside an unserved worker environment succeeded")
	}
}
