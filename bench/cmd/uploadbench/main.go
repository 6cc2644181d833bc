// Command uploadbench measures the peak resident memory of the gateway and
// of retrieval while N clients upload big PDFs at once, over the two REST
// upload paths side by side in one run:
//
//   - json: the compatibility path, {"name","content":"<base64>"} through
//     grpc-gateway and one unary UploadDocument message;
//   - raw: the streaming path, an application/pdf body the gateway streams
//     to UploadDocumentStream in 256 KiB pieces.
//
// Each path gets fresh processes (Debian's etcd, `pdfqa serve retrieval`,
// `pdfqa serve gateway --http`, no auth), so each peak is that path's own
// (VmHWM of the process, read when the last upload has been answered). The
// PDFs are generated while they are sent (one page, padded by a comment to
// the size asked, a different pad per upload so none is a duplicate): the
// client holds none of them.
//
//	make build && nice -n 19 go run ./bench/cmd/uploadbench -size 380 -parallel 8 -json-parallel 2
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

func main() {
	bin := flag.String("bin", "bin/pdfqa", "pdfqa binary")
	size := flag.Int("size", 380, "size of each PDF in MiB")
	par := flag.Int("parallel", 8, "parallel uploads on the streaming path")
	jsonPar := flag.Int("json-parallel", 8, "parallel uploads on the JSON+base64 path (0: skip it); each holds several copies of its PDF in the gateway")
	write := flag.String("write", "", "write one generated PDF of -size MiB to this file and exit (to check it)")
	flag.Parse()
	if *write != "" {
		f, err := os.Create(*write)
		if err == nil {
			err = writePDF(f, 0, int64(*size)<<20)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			benchutil.Fail("uploadbench", err)
		}
		return
	}
	limit := int64(*size+8) << 20
	fmt.Printf("| path | parallel uploads of %d MiB | gateway peak RSS | retrieval peak RSS | wall | answers |\n|---|---|---|---|---|---|\n", *size)
	runs := []struct {
		path string
		n    int
	}{{"raw (streamed)", *par}, {"json+base64", *jsonPar}}
	if *jsonPar > 0 && *jsonPar != *par {
		runs = append(runs, struct {
			path string
			n    int
		}{"raw (streamed)", *jsonPar})
	}
	for _, r := range runs {
		if r.n <= 0 {
			continue
		}
		res, err := measure(*bin, r.path != "json+base64", r.n, int64(*size)<<20, limit)
		if err != nil {
			benchutil.Fail("uploadbench", err)
		}
		fmt.Printf("| %s | %d | %.0f MiB | %.0f MiB | %.1f s | %s |\n", r.path, r.n, res.gw, res.ret, res.wall.Seconds(), res.answers)
	}
}

type result struct {
	gw, ret float64 // MiB
	wall    time.Duration
	answers string
}

// start runs a command and returns it with its first stdout line.
func start(env []string, name string, args ...string) (*exec.Cmd, string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			if first {
				line <- sc.Text()
				first = false
			}
		}
	}()
	select {
	case l := <-line:
		return cmd, l, nil
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("%s did not start", name)
	}
}

func stop(cmds ...*exec.Cmd) {
	for _, c := range cmds {
		if c != nil && c.Process != nil {
			_ = c.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = c.Process.Kill()
				<-done
			}
		}
	}
}

func measure(bin string, streamed bool, n int, size, limit int64) (result, error) {
	tmp, err := os.MkdirTemp("", "uploadbench-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(tmp)
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		return result{}, fmt.Errorf("etcd: install Debian's etcd-server (scripts/setup/system.sh): %w", err)
	}
	etcd, err := etcdtest.StartCluster(etcdBin, filepath.Join(tmp, "etcd"), 1)
	if err != nil {
		return result{}, fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Stop()
	ec := etcd.Endpoints()[0]
	env := []string{"PDFQA_MAX_UPLOAD_BYTES=" + strconv.FormatInt(limit, 10)}
	common := []string{"--etcd", ec, "--insecure-no-auth", "--log-level", "warn"}
	ret, _, err := start(env, bin, append([]string{"serve", "retrieval", "--data", filepath.Join(tmp, "r")}, common...)...)
	if err != nil {
		return result{}, err
	}
	defer stop(ret)
	port, err := testenv.FreePort()
	if err != nil {
		return result{}, err
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", port)
	gw, _, err := start(env, bin, append([]string{"serve", "gateway", "--data", filepath.Join(tmp, "g"), "--http", httpAddr}, common...)...)
	if err != nil {
		return result{}, err
	}
	defer stop(gw)
	time.Sleep(3 * time.Second) // registered and resolved
	t0 := time.Now()
	var wg sync.WaitGroup
	codes := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = upload(httpAddr, streamed, i, size)
		}()
	}
	wg.Wait()
	res := result{gw: benchutil.PeakRSSMiB(gw.Process.Pid), ret: benchutil.PeakRSSMiB(ret.Process.Pid), wall: time.Since(t0)}
	counts := map[string]int{}
	for _, c := range codes {
		counts[c]++
	}
	var parts []string
	for c, k := range counts {
		parts = append(parts, fmt.Sprintf("%d× %s", k, c))
	}
	res.answers = strings.Join(parts, ", ")
	return res, nil
}

// upload sends PDF i of size bytes and returns the answer's status (and
// the error message when it is not 200).
func upload(addr string, streamed bool, i int, size int64) string {
	url := fmt.Sprintf("http://%s/v1/collections/bench/documents", addr)
	pr, pw := io.Pipe()
	ctype := "application/pdf"
	name := fmt.Sprintf("big-%d.pdf", i)
	if streamed {
		url += "?name=" + name
		go func() { pw.CloseWithError(writePDF(pw, i, size)) }()
	} else {
		ctype = "application/json"
		go func() {
			_, err := io.WriteString(pw, `{"name":"`+name+`","content":"`)
			if err == nil {
				enc := base64.NewEncoder(base64.StdEncoding, pw)
				if err = writePDF(enc, i, size); err == nil {
					err = enc.Close()
				}
			}
			if err == nil {
				_, err = io.WriteString(pw, `"}`)
			}
			pw.CloseWithError(err)
		}()
	}
	resp, err := http.Post(url, ctype, pr)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return "200"
}

// writePDF writes a valid one-page PDF of exactly size bytes: the header,
// a comment of padding (different per i), then the objects, whose xref
// offsets count the padding.
func writePDF(w io.Writer, i int, size int64) error {
	content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (Upload benchmark document %d) Tj ET", i)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var body bytes.Buffer
	offs := make([]int, len(objs))
	for k, o := range objs {
		offs[k] = body.Len()
		fmt.Fprintf(&body, "%d 0 obj\n%s\nendobj\n", k+1, o)
	}
	header := "%PDF-1.4\n%"
	// header + pad + "\n" + body + xref/trailer = size
	trailer := func(base int) string {
		var t strings.Builder
		fmt.Fprintf(&t, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
		for _, o := range offs {
			fmt.Fprintf(&t, "%010d 00000 n \n", base+o)
		}
		fmt.Fprintf(&t, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, base+body.Len())
		return t.String()
	}
	// Only startxref's width depends on the pad: settle it in a few rounds.
	pad := size - int64(len(header)+1+body.Len()+len(trailer(0)))
	for range 4 {
		base := len(header) + int(pad) + 1
		d := size - int64(base+body.Len()+len(trailer(base)))
		if d == 0 {
			break
		}
		pad += d
	}
	if pad < 16 {
		return fmt.Errorf("size %d is too small", size)
	}
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	line := bytes.Repeat([]byte{byte('a' + i%26)}, 1<<20)
	for left := pad; left > 0; {
		k := min(left, int64(len(line)))
		if _, err := w.Write(line[:k]); err != nil {
			return err
		}
		left -= k
	}
	base := len(header) + int(pad) + 1
	if _, err := io.WriteString(w, "\n"+body.String()+trailer(base)); err != nil {
		return err
	}
	return nil
}
