package drbd

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseProc reads DRBD 8.4's /proc/drbd: one resource per configured minor, in the order listed.
// Unconfigured minors are skipped. Lines it does not know are ignored; a device line it cannot
// read is an error.
//
//	 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----
//	    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
//		[==>.................] sync'ed: 15.0% (28000/32768)K
func ParseProc(text string) ([]Resource, error) {
	var out []Resource
	var cur *Resource
	for n, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "version:") || strings.HasPrefix(t, "srcversion:") || strings.HasPrefix(t, "GIT-hash:"):
			continue
		case isDeviceLine(t):
			r, skip, err := parseDeviceLine(t)
			if err != nil {
				return nil, fmt.Errorf("/proc/drbd line %d: %w", n+1, err)
			}
			cur = nil
			if skip {
				continue
			}
			out = append(out, r)
			cur = &out[len(out)-1]
		case cur != nil && strings.HasPrefix(t, "ns:"):
			for _, f := range strings.Fields(t) {
				if v, ok := strings.CutPrefix(f, "oos:"); ok {
					cur.Peers[0].OutOfSync, _ = strconv.ParseUint(v, 10, 64)
				}
			}
		case cur != nil && strings.Contains(t, "sync'ed:"):
			_, after, _ := strings.Cut(t, "sync'ed:")
			if f := strings.Fields(after); len(f) > 0 {
				cur.Peers[0].SyncedPct, _ = strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
			}
		}
	}
	return out, nil
}

// isDeviceLine: "N: cs:..." with N the minor.
func isDeviceLine(t string) bool {
	minor, rest, ok := strings.Cut(t, ":")
	if !ok || minor == "" {
		return false
	}
	if _, err := strconv.Atoi(minor); err != nil {
		return false
	}
	return strings.HasPrefix(strings.TrimSpace(rest), "cs:")
}

func parseDeviceLine(t string) (Resource, bool, error) {
	minorS, rest, _ := strings.Cut(t, ":")
	minor, _ := strconv.Atoi(minorS)
	r := Resource{Name: fmt.Sprintf("minor%d", minor), Minor: minor, Role: "Unknown", Disk: "DUnknown"}
	p := Peer{Role: "Unknown", Disk: "DUnknown"}
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			// The I/O flags, "r-----": r running, s suspended.
			if len(f) == 6 && (f[0] == 'r' || f[0] == 's') {
				r.Suspended = f[0] == 's'
			}
			continue
		}
		switch k {
		case "cs":
			p.Connection = v
		case "ro":
			a, b, ok := strings.Cut(v, "/")
			if !ok {
				return r, false, fmt.Errorf("ro:%s is not LOCAL/PEER", v)
			}
			r.Role, p.Role = a, b
		case "ds":
			a, b, ok := strings.Cut(v, "/")
			if !ok {
				return r, false, fmt.Errorf("ds:%s is not LOCAL/PEER", v)
			}
			r.Disk, p.Disk = a, b
		}
	}
	switch p.Connection {
	case "":
		return r, false, fmt.Errorf("no connection state (cs:) in %q", t)
	case "Unconfigured":
		return r, true, nil
	}
	r.Peers = []Peer{p}
	return r, false, nil
}
