// Package pdftest builds PDFs for tests and samples: documents assembled
// from their objects, a minimal one-page document, and hostile ones (a page
// count far past any limit, decompression bombs) built in milliseconds and a
// few megabytes.
package pdftest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"strings"
)

// Assemble writes objs as a PDF, numbering them from 1: object 1 is the
// catalog and the last the document information dictionary. The header
// carries a binary comment; the output depends only on objs.
func Assemble(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	return finish(&b, writeObjects(&b, objs), len(objs))
}

// OnePage is a minimal one-page Letter PDF whose page says text (written as
// is, not escaped) in 12-point Helvetica.
func OnePage(text string) []byte {
	content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", text)
	return onePage("/Resources << /Font << /F1 5 0 R >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
}

// onePage writes a one-page Letter PDF: the catalog, the page tree, the page
// (its dictionary ends with res, its contents object 4), then rest from
// object 4 on.
func onePage(res string, rest ...string) []byte {
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"
	if res != "" {
		page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R " + res + " >>"
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := writeObjects(&b, append([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page}, rest...))
	return finish(&b, offs, 0)
}

// TextPage writes one line of Helvetica text (font /F1).
const TextPage = "BT /F1 12 Tf 72 700 Td (A page of a very long document.) Tj ET"

// ImagePage draws an 8x8 gray image (/Im1) over the page: something to see,
// no text layer, so the page needs OCR.
const ImagePage = "q 612 0 0 792 0 0 cm /Im1 Do Q"

// ManyPages makes an n-page Letter PDF whose pages all draw one shared
// content stream (TextPage or ImagePage); the resources are inherited from
// the page tree. 200,000 pages take about 20 MB.
func ManyPages(n int, content string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&kids, "%d 0 R ", i+6)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 5 0 R >> >> >>", kids.String(), n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	obj(stream("", []byte(content)))
	obj(stream("/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8", bytes.Repeat([]byte{0x80}, 64)))
	for i := 0; i < n; i++ {
		obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
	}
	return finish(&b, offs, 0)
}

// Bomb is a one-page PDF whose content stream (FlateDecode) inflates to
// mib MiB of zeros; 512 MiB take about 0.5 MB.
func Bomb(mib int) []byte {
	return onePage("", stream("/Filter /FlateDecode", ZlibZeros(mib)))
}

// ZlibZeros is the zlib stream of mib MiB of zeros, built without
// compressing them: after the first MiB, each flushed deflate segment of a
// MiB of zeros refers back only into zeros, so one such segment repeats.
func ZlibZeros(mib int) []byte {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	zero := make([]byte, 1<<20)
	_, _ = fw.Write(zero)
	_ = fw.Flush()
	first := z.Len()
	_, _ = fw.Write(zero)
	_ = fw.Flush()
	second := z.Len()
	_ = fw.Close()
	raw := z.Bytes()
	var out bytes.Buffer
	out.Write([]byte{0x78, 0xda})
	out.Write(raw[:first])
	for i := 1; i < mib; i++ {
		out.Write(raw[first:second])
	}
	out.Write(raw[second:])
	// Adler-32 of zeros: a stays 1, b grows by 1 per byte.
	n := uint64(mib) << 20
	_ = binary.Write(&out, binary.BigEndian, uint32(n%65521)<<16|1)
	return out.Bytes()
}

func stream(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// writeObjects writes objs as objects numbered from 1 and returns their
// offsets.
func writeObjects(b *bytes.Buffer, objs []string) []int {
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	return offs
}

// finish writes the cross-reference table and trailer; info, when not 0,
// is the number of the document information dictionary.
func finish(b *bytes.Buffer, offs []int, info int) []byte {
	xref := b.Len()
	fmt.Fprintf(b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, off := range offs {
		fmt.Fprintf(b, "%010d 00000 n \n", off)
	}
	root := "/Root 1 0 R"
	if info != 0 {
		root += fmt.Sprintf(" /Info %d 0 R", info)
	}
	fmt.Fprintf(b, "trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, root, xref)
	return b.Bytes()
}
