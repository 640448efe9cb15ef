package drill

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sample(site string, at float64, ok bool) Sample {
	return Sample{Site: site, At: time.Duration(at * float64(time.Second)), Op: "issue", OK: ok}
}

func TestWindows(t *testing.T) {
	tl := Timeline{Sites: []string{"a", "b"}, Length: 30 * time.Second,
		Events: []Mark{{10 * time.Second, "kill a"}, {20 * time.Second, "partition b"}}}
	for i := 0.0; i < 30; i += 0.5 {
		okA := !(i >= 10.5 && i < 12) // a fails 10.5..11.5, back at 12
		okB := !(i >= 21 && i < 29)   // b fails 21..28.5, back at 29
		tl.Samples = append(tl.Samples, sample("a", i, okA), sample("b", i, okB))
	}
	ws := tl.Windows()
	if len(ws) != 2 {
		t.Fatalf("windows %+v", ws)
	}
	if w := ws[0]; w.Site != "a" || w.Event != "kill a" || w.Length != 1500*time.Millisecond || w.Failed != 3 {
		t.Errorf("a's window %+v, want 1.5s after kill a", w)
	}
	if w := ws[1]; w.Site != "b" || w.Event != "partition b" || w.Length != 8*time.Second {
		t.Errorf("b's window %+v, want 8s after partition b", w)
	}
	// A failure that never recovers runs to the end of the event's span.
	tl.Samples = []Sample{sample("a", 25, false)}
	if ws := tl.Windows(); len(ws) != 1 || ws[0].To != 30*time.Second {
		t.Errorf("unrecovered: %+v", ws)
	}
}

func TestCrossSiteAndRender(t *testing.T) {
	tl := Timeline{Sites: []string{"lngs", "bari"}, Length: 12 * time.Second, Events: []Mark{{5 * time.Second, "kill <lngs>"}},
		Writers: []WriterAt{{0, "lngs"}, {6 * time.Second, ""}, {7 * time.Second, "bari"}},
		Samples: []Sample{
			{Site: "bari", At: time.Second, Op: "validate", From: "lngs", OK: true},
			{Site: "bari", At: 2 * time.Second, Op: "validate", From: "lngs", OK: false},
			sample("lngs", 5.5, false), sample("lngs", 8, true),
		}}
	cs := tl.CrossSite()
	if got := cs[[2]string{"lngs", "bari"}]; got != [2]int{1, 2} {
		t.Errorf("cross-site lngs→bari %v, want 1 of 2", got)
	}
	var txt bytes.Buffer
	tl.Print(&txt)
	for _, want := range []string{"writer          |llllll-bbbbbb|", "lngs issue      |     x  .    |", "bari validate   | .x          |"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text timeline lacks %q:\n%s", want, txt.String())
		}
	}
	svg := tl.SVG()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	rects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects < 8 || !bytes.Contains(svg, []byte("kill &lt;lngs&gt;")) || !bytes.Contains(svg, []byte(`fill="#d62728"`)) {
		t.Errorf("SVG lacks the writer band, the failure or the escaped event (%d rects)", rects)
	}
}

// The legend has a line of its own: between the title (14 px type, baseline y) and the first row.
func TestLegendClearOfTitle(t *testing.T) {
	tl := Timeline{Sites: []string{"lngs", "bari", "padova"}, Length: 30 * time.Second, Writers: []WriterAt{{0, "lngs"}}}
	dec := xml.NewDecoder(bytes.NewReader(tl.SVG()))
	var titleBase, firstRow float64
	var legend []float64 // the tops of the legend's colour squares
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range se.Attr {
			attr[a.Name.Local] = a.Value
		}
		y, _ := strconv.ParseFloat(attr["y"], 64)
		switch {
		case se.Name.Local == "text" && attr["font-weight"] == "bold":
			titleBase = y
		case se.Name.Local == "rect" && attr["width"] == "10" && attr["height"] == "10":
			legend = append(legend, y)
		case se.Name.Local == "rect" && attr["fill"] != "white" && firstRow == 0:
			firstRow = y
		}
	}
	if len(legend) != 3 || titleBase == 0 || firstRow == 0 {
		t.Fatalf("title at %v, legend %v, first row at %v: the picture lacks one", titleBase, legend, firstRow)
	}
	for _, top := range legend {
		if top < titleBase+5 || top+10 > firstRow {
			t.Errorf("legend square at y %v-%v: want it below the title (baseline %v, descenders to %v) and above the first row (%v)",
				top, top+10, titleBase, titleBase+5, firstRow)
		}
	}
}

func TestCuts(t *testing.T) {
	op := func(site, op string, at float64, ok bool) Sample {
		return Sample{Site: site, At: time.Duration(at * float64(time.Second)), Op: op, OK: ok}
	}
	tl := Timeline{Sites: []string{"lngs", "padova"}, Length: 40 * time.Second,
		Events: []Mark{{5 * time.Second, "kill -9 mysqld at lngs (the writer)"},
			{10 * time.Second, "partition padova (cut off from the other sites)"}, {20 * time.Second, "heal padova"}},
		Samples: []Sample{
			op("padova", "get", 9, false),  // before the cut: not counted
			op("padova", "get", 11, true),  // during it
			op("padova", "get", 12, false), //
			op("padova", "put", 13, false), //
			op("lngs", "put", 14, true),    // another site: not counted
			op("padova", "issue", 19.9, true),
			op("padova", "put", 20, true), // at the heal: after the cut
		}}
	cs := tl.Cuts()
	if len(cs) != 1 || cs[0].Site != "padova" {
		t.Fatalf("cuts %+v, want padova's one", cs)
	}
	want := map[string][2]int{"get": {1, 2}, "put": {0, 1}, "issue": {1, 1}}
	if got := cs[0].Ops; len(got) != len(want) || got["get"] != want["get"] || got["put"] != want["put"] || got["issue"] != want["issue"] {
		t.Errorf("padova during the cut: %v, want %v", got, want)
	}
	// A cut never healed runs to the end of the drill.
	tl.Events = tl.Events[:2]
	if got := tl.Cuts()[0].Ops["put"]; got != [2]int{1, 2} {
		t.Errorf("unhealed cut: puts %v, want 1 of 2", got)
	}
}
