package drill

import (
	"bytes"
	"fmt"
	"html"
	"time"
)

var siteColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"}

// SVG draws the timeline: the writer band (a colour per site), then per site one row of token
// issues and one of cross-site validations (and, with Swift, one of object PUTs and one of GETs),
// each slot of 250 ms green when every operation in it
// succeeded, red when every one failed, orange when some did; the drill's events as dashed lines.
func (t Timeline) SVG() []byte {
	// The title's baseline is at titleY (14 px type: it reaches down to about titleY+4); the
	// legend has a line of its own below it, and the rows start below the legend.
	const (
		titleY, legendY      = 20.0, 32.0 // legendY: the top of the legend's colour squares
		left, top, rowH, gap = 150.0, 56.0, 22.0, 6.0
		width                = 1000.0
		slot                 = 250 * time.Millisecond
	)
	length := max(t.Length, time.Second)
	x := func(d time.Duration) float64 { return left + width*float64(d)/float64(length) }
	rows := 1
	for _, s := range t.Sites {
		rows += len(t.opsOf(s))
	}
	height := top + float64(rows)*(rowH+gap) + 40 + 16*float64(len(t.Events))
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", left+width+20, height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="white"/>`+"\n", left+width+20, height)
	fmt.Fprintf(&b, `<text x="10" y="%.0f" font-size="14" font-weight="bold">keyha drill: Keystone tokens while the database fails (%.0f s)</text>`+"\n", titleY, length.Seconds())
	color := map[string]string{}
	for i, s := range t.Sites {
		color[s] = siteColors[i%len(siteColors)]
	}
	y := top
	fmt.Fprintf(&b, `<text x="10" y="%.0f">writer</text>`+"\n", y+15)
	for i, wa := range t.Writers {
		end := length
		if i+1 < len(t.Writers) {
			end = t.Writers[i+1].At
		}
		fill := "#cccccc"
		if c, ok := color[wa.Writer]; ok {
			fill = c
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s"><title>%s</title></rect>`+"\n",
			x(wa.At), y, max(x(end)-x(wa.At), 0.5), rowH, fill, html.EscapeString(orNone(wa.Writer)))
	}
	for i, s := range t.Sites {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			left+float64(i)*110, legendY, color[s], left+float64(i)*110+14, legendY+9, html.EscapeString(s))
	}
	y += rowH + gap
	nslots := int(length/slot) + 1
	for _, site := range t.Sites {
		for _, op := range t.opsOf(site) {
			label := site + " " + map[string]string{"issue": "issue", "validate": "validates others'", "put": "Swift PUT", "get": "Swift GET"}[op]
			fmt.Fprintf(&b, `<text x="10" y="%.0f">%s</text>`+"\n", y+15, html.EscapeString(label))
			ok, bad := make([]int, nslots), make([]int, nslots)
			for _, s := range t.Samples {
				if s.Site != site || s.Op != op {
					continue
				}
				i := min(int(s.At/slot), nslots-1)
				if s.OK {
					ok[i]++
				} else {
					bad[i]++
				}
			}
			for i := range nslots {
				fill := ""
				switch {
				case ok[i] == 0 && bad[i] == 0:
					continue
				case bad[i] == 0:
					fill = "#2ca02c"
				case ok[i] == 0:
					fill = "#d62728"
				default:
					fill = "#ff9f1c"
				}
				from := time.Duration(i) * slot
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s"/>`+"\n", x(from), y, x(from+slot)-x(from), rowH, fill)
			}
			y += rowH + gap
		}
	}
	for i, e := range t.Events {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="black" stroke-dasharray="4,3"/>`+"\n", x(e.At), top-4, x(e.At), y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f">%d</text>`+"\n", x(e.At)+2, top+2, i+1)
	}
	for s := time.Duration(0); s <= length; s += 10 * time.Second {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%.0fs</text>`+"\n", x(s), y+14, s.Seconds())
	}
	y += 34
	for i, e := range t.Events {
		fmt.Fprintf(&b, `<text x="10" y="%.0f">%d  %.1fs  %s</text>`+"\n", y+float64(i)*16, i+1, e.At.Seconds(), html.EscapeString(e.What))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func orNone(s string) string {
	if s == "" {
		return "no agreed writer"
	}
	return s
}
