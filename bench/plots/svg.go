// Package plots draws docs/performance.md's charts as SVG from the
// committed benchmark results in bench/recorded (no plotting library: the
// output is plain, deterministic SVG, so a test can check that the
// committed files are what the results draw).
//
//	go run ./bench/plots/gen     # rewrites docs/perf/*.svg
package plots

import (
	"fmt"
	"html"
	"math"
	"strings"
)

const (
	width    = 720.0
	height   = 360.0
	marginL  = 78.0
	marginR  = 190.0 // legend
	marginT  = 44.0
	marginB  = 62.0
	fontFace = "DejaVu Sans, Helvetica, Arial, sans-serif"
)

// palette is colour-blind safe (Okabe-Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

type svg struct{ b strings.Builder }

func newSVG(title string) *svg {
	s := &svg{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="%s" font-size="12">`+"\n", width, height, width, height, fontFace)
	fmt.Fprintf(&s.b, `<rect width="%g" height="%g" fill="#ffffff"/>`+"\n", width, height)
	s.text(width/2, 24, "middle", 15, "bold", title)
	return s
}

func (s *svg) text(x, y float64, anchor string, size float64, weight, t string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%g" font-weight="%s">%s</text>`+"\n", x, y, anchor, size, weight, html.EscapeString(t))
}

func (s *svg) vtext(x, y float64, t string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n", x, y, x, y, html.EscapeString(t))
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string, w float64, dash string) {
	d := ""
	if dash != "" {
		d = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g"%s/>`+"\n", x1, y1, x2, y2, stroke, w, d)
}

func (s *svg) rect(x, y, w, h float64, fill, title string) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n", x, y, w, h, fill, html.EscapeString(title))
}

func (s *svg) done() []byte {
	s.b.WriteString("</svg>\n")
	return []byte(s.b.String())
}

// legend lists names with their colours (colors[i] is the palette index of
// names[i]; nil: i) and line style.
func (s *svg) legend(names []string, dashed map[string]bool, colors []int) {
	x, y := width-marginR+18, marginT+6
	for i, n := range names {
		c := colorOf(colors, i)
		if dashed[n] {
			s.line(x, y-4, x+22, y-4, c, 2.5, "6 4")
		} else {
			s.rect(x, y-10, 22, 11, c, n)
		}
		lines := wrapLabel(n, 24)
		for j, l := range lines {
			s.text(x+28, y+float64(j)*13, "start", 11, "normal", l)
		}
		y += 20 + float64(len(lines)-1)*13
	}
}

func colorOf(colors []int, i int) string {
	if i < len(colors) {
		i = colors[i]
	}
	return palette[i%len(palette)]
}

// wrapLabel splits a legend label in lines of about n characters.
func wrapLabel(s string, n int) []string {
	var out []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > n {
			out = append(out, cur)
			cur = w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	return append(out, cur)
}

// axis maps values to pixels, linear or log10.
type axis struct {
	lo, hi   float64
	log      bool
	p0, p1   float64 // pixel of lo and hi
	label    string
	tickFmt  func(float64) string
	tickVals []float64
}

func (a axis) px(v float64) float64 {
	if a.log {
		return a.p0 + (math.Log10(v)-math.Log10(a.lo))/(math.Log10(a.hi)-math.Log10(a.lo))*(a.p1-a.p0)
	}
	return a.p0 + (v-a.lo)/(a.hi-a.lo)*(a.p1-a.p0)
}

func (a axis) ticks() []float64 {
	if a.tickVals != nil {
		return a.tickVals
	}
	if a.log {
		var t []float64
		for e := math.Floor(math.Log10(a.lo)); e <= math.Ceil(math.Log10(a.hi)); e++ {
			if v := math.Pow(10, e); v >= a.lo*0.999 && v <= a.hi*1.001 {
				t = append(t, v)
			}
		}
		return t
	}
	step := niceStep((a.hi - a.lo) / 5)
	var t []float64
	for v := math.Ceil(a.lo/step) * step; v <= a.hi+step*1e-9; v += step {
		t = append(t, v)
	}
	return t
}

func niceStep(raw float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= raw {
			return m * e
		}
	}
	return 10 * e
}

// linearTop is a round upper bound above max.
func linearTop(max float64) float64 {
	step := niceStep(max / 5)
	return math.Ceil(max*1.08/step) * step
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.1fM", v/1e6))
	case v >= 1e4:
		return trimZero(fmt.Sprintf("%.0fk", v/1e3))
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return trimZero(fmt.Sprintf("%.0f", v))
	case v >= 1:
		return trimZero(fmt.Sprintf("%.1f", v))
	default:
		return trimZero(fmt.Sprintf("%.2f", v))
	}
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		unit := strings.TrimLeft(s, "0123456789.-")
		num := strings.TrimSuffix(s, unit)
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
		return num + unit
	}
	return s
}

func (s *svg) yAxis(a axis) {
	for _, v := range a.ticks() {
		y := a.px(v)
		s.line(marginL, y, width-marginR, y, "#dddddd", 1, "")
		f := fmtNum
		if a.tickFmt != nil {
			f = a.tickFmt
		}
		s.text(marginL-6, y+4, "end", 11, "normal", f(v))
	}
	s.line(marginL, marginT, marginL, height-marginB, "#333333", 1, "")
	s.vtext(18, (marginT+height-marginB)/2, a.label)
}

// Bars is a grouped bar chart: one group per category, one bar per series.
type Bars struct {
	Title, YLabel string
	Categories    []string
	Series        []string
	Values        [][]float64 // [series][category]; NaN: no bar
	Log           bool
	Note          string
}

// SVG draws the chart.
func (c Bars) SVG() []byte {
	s := newSVG(c.Title)
	max, min := 0.0, math.Inf(1)
	for _, vs := range c.Values {
		for _, v := range vs {
			if !math.IsNaN(v) {
				max, min = math.Max(max, v), math.Min(min, v)
			}
		}
	}
	a := axis{lo: 0, hi: linearTop(max), p0: height - marginB, p1: marginT, label: c.YLabel}
	if c.Log {
		a.log, a.lo, a.hi = true, math.Pow(10, math.Floor(math.Log10(min))), math.Pow(10, math.Ceil(math.Log10(max*1.05)))
	}
	s.yAxis(a)
	gw := (width - marginL - marginR) / float64(len(c.Categories))
	bw := gw * 0.8 / float64(len(c.Series))
	for ci, cat := range c.Categories {
		x0 := marginL + float64(ci)*gw + gw*0.1
		for si := range c.Series {
			v := c.Values[si][ci]
			if math.IsNaN(v) {
				continue
			}
			y := a.px(v)
			s.rect(x0+float64(si)*bw, y, bw-2, height-marginB-y, palette[si%len(palette)], fmt.Sprintf("%s, %s: %g", c.Series[si], cat, v))
			s.text(x0+float64(si)*bw+bw/2-1, y-4, "middle", 10, "normal", fmtNum(v))
		}
		for j, l := range wrapLabel(cat, int(gw/6.5)) {
			s.text(marginL+float64(ci)*gw+gw/2, height-marginB+16+float64(j)*13, "middle", 11, "normal", l)
		}
	}
	s.line(marginL, height-marginB, width-marginR, height-marginB, "#333333", 1, "")
	s.legend(c.Series, nil, nil)
	if c.Note != "" {
		s.text(marginL, height-8, "start", 10, "normal", c.Note)
	}
	return s.done()
}

// Point is one (x, y) of a line.
type Point struct{ X, Y float64 }

// Lines is a line chart with markers.
type Lines struct {
	Title, XLabel, YLabel string
	Series                []string
	Points                [][]Point
	Dashed                map[string]bool // series drawn dashed (reference lines, p99)
	Colors                []int           // palette index of each series (nil: its position)
	LogX, LogY            bool
	XTicks                []float64
	Note                  string
}

// SVG draws the chart.
func (c Lines) SVG() []byte {
	s := newSVG(c.Title)
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, ps := range c.Points {
		for _, p := range ps {
			xlo, xhi = math.Min(xlo, p.X), math.Max(xhi, p.X)
			ylo, yhi = math.Min(ylo, p.Y), math.Max(yhi, p.Y)
		}
	}
	x := axis{lo: xlo, hi: xhi, log: c.LogX, p0: marginL + 16, p1: width - marginR - 16, tickVals: c.XTicks}
	y := axis{lo: 0, hi: linearTop(yhi), log: c.LogY, p0: height - marginB, p1: marginT, label: c.YLabel}
	if c.LogY {
		y.lo, y.hi = math.Pow(10, math.Floor(math.Log10(ylo))), math.Pow(10, math.Ceil(math.Log10(yhi*1.05)))
	}
	s.yAxis(y)
	for _, v := range x.ticks() {
		s.line(x.px(v), height-marginB, x.px(v), height-marginB+4, "#333333", 1, "")
		s.text(x.px(v), height-marginB+17, "middle", 11, "normal", fmtNum(v))
	}
	s.line(marginL, height-marginB, width-marginR, height-marginB, "#333333", 1, "")
	s.text((marginL+width-marginR)/2, height-marginB+36, "middle", 12, "normal", c.XLabel)
	for si, ps := range c.Points {
		col := colorOf(c.Colors, si)
		var pts []string
		for _, p := range ps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x.px(p.X), y.px(p.Y)))
		}
		dash := ""
		if c.Dashed[c.Series[si]] {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&s.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`+"\n", strings.Join(pts, " "), col, dash)
		for _, p := range ps {
			fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s: %g, %g</title></circle>`+"\n", x.px(p.X), y.px(p.Y), col, html.EscapeString(c.Series[si]), p.X, p.Y)
		}
	}
	s.legend(c.Series, c.Dashed, c.Colors)
	if c.Note != "" {
		s.text(marginL, height-8, "start", 10, "normal", c.Note)
	}
	return s.done()
}

// Stacked is a horizontal stacked bar chart: one bar per row, one segment
// per part.
type Stacked struct {
	Title, XLabel string
	Rows          []string
	Parts         []string
	Values        [][]float64 // [row][part]
	Note          string
}

// SVG draws the chart.
func (c Stacked) SVG() []byte {
	s := newSVG(c.Title)
	max := 0.0
	for _, vs := range c.Values {
		t := 0.0
		for _, v := range vs {
			t += v
		}
		max = math.Max(max, t)
	}
	left := 120.0
	x := axis{lo: 0, hi: linearTop(max), p0: left, p1: width - marginR}
	for _, v := range x.ticks() {
		s.line(x.px(v), marginT, x.px(v), height-marginB, "#dddddd", 1, "")
		s.text(x.px(v), height-marginB+17, "middle", 11, "normal", fmtNum(v))
	}
	s.text((left+width-marginR)/2, height-marginB+36, "middle", 12, "normal", c.XLabel)
	rh := (height - marginT - marginB) / float64(len(c.Rows))
	for ri, row := range c.Rows {
		y := marginT + float64(ri)*rh + rh*0.2
		at := 0.0
		for pi, v := range c.Values[ri] {
			if v <= 0 {
				continue
			}
			s.rect(x.px(at), y, x.px(at+v)-x.px(at), rh*0.6, palette[pi%len(palette)], fmt.Sprintf("%s, %s: %g", row, c.Parts[pi], v))
			at += v
		}
		s.text(left-8, y+rh*0.3+4, "end", 12, "normal", row)
		s.text(x.px(at)+6, y+rh*0.3+4, "start", 11, "normal", fmtNum(at))
	}
	s.line(left, height-marginB, width-marginR, height-marginB, "#333333", 1, "")
	s.legend(c.Parts, nil, nil)
	if c.Note != "" {
		s.text(left, height-8, "start", 10, "normal", c.Note)
	}
	return s.done()
}
