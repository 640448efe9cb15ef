package drbd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ParseStatus reads `drbdsetup status` text, which DRBD 9 and drbd-utils' 8.4 compatibility
// (drbdsetup-84) both print: a resource line, an indented device line, then per peer a connection
// line and a further-indented peer-device line. A connection line without connection: is a
// connected one (DRBD leaves it out then).
//
//	r0 role:Primary
//	  disk:UpToDate
//	  peer role:Secondary
//	    replication:SyncSource peer-disk:Inconsistent done:15.03
func ParseStatus(text string) ([]Resource, error) {
	var out []Resource
	var r *Resource
	var p *Peer
	for n, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		f := strings.Fields(line)
		where := func(err error) error { return fmt.Errorf("drbdsetup status line %d: %w", n+1, err) }
		switch {
		case indent == 0:
			out = append(out, Resource{Name: f[0], Role: "Unknown", Disk: "DUnknown", Minor: -1})
			r, p = &out[len(out)-1], nil
			for k, v := range kvs(f[1:]) {
				if k == "role" {
					r.Role = v
				}
			}
		case r == nil:
			return nil, where(fmt.Errorf("%q comes before any resource line", strings.TrimSpace(line)))
		case indent <= 2 && strings.Contains(f[0], ":"):
			for k, v := range kvs(f) {
				switch k {
				case "disk":
					r.Disk = v
				case "minor":
					r.Minor, _ = strconv.Atoi(v)
				case "quorum":
					q := v == "yes"
					r.Quorum = &q
				}
			}
		case indent <= 2:
			r.Peers = append(r.Peers, Peer{Name: f[0], Connection: "Connected", Role: "Unknown", Disk: "DUnknown"})
			p = &r.Peers[len(r.Peers)-1]
			for k, v := range kvs(f[1:]) {
				switch k {
				case "role":
					p.Role = v
				case "connection":
					p.Connection = v
				}
			}
		case p == nil:
			return nil, where(fmt.Errorf("%q comes before any peer line", strings.TrimSpace(line)))
		default:
			for k, v := range kvs(f) {
				switch k {
				case "replication":
					p.Replication = v
				case "peer-disk":
					p.Disk = v
				case "done":
					p.SyncedPct, _ = strconv.ParseFloat(v, 64)
				case "out-of-sync":
					p.OutOfSync, _ = strconv.ParseUint(v, 10, 64)
				}
			}
		}
	}
	return out, nil
}

func kvs(fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// ParseStatusJSON reads DRBD 9's `drbdsetup status --json`. Only volume 0 of each resource is
// modelled: keyha runs one volume per resource.
func ParseStatusJSON(b []byte) ([]Resource, error) {
	var in []struct {
		Name    string `json:"name"`
		Role    string `json:"role"`
		Devices []struct {
			Volume int    `json:"volume"`
			Minor  int    `json:"minor"`
			Disk   string `json:"disk-state"`
			Quorum *bool  `json:"quorum"`
		} `json:"devices"`
		Connections []struct {
			Name  string `json:"name"`
			State string `json:"connection-state"`
			Role  string `json:"peer-role"`
			Peers []struct {
				Volume      int     `json:"volume"`
				Replication string  `json:"replication-state"`
				Disk        string  `json:"peer-disk-state"`
				OutOfSync   uint64  `json:"out-of-sync"`
				InSync      float64 `json:"percent-in-sync"`
			} `json:"peer_devices"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("drbdsetup status --json: %w", err)
	}
	out := make([]Resource, 0, len(in))
	for _, x := range in {
		if x.Name == "" || x.Role == "" {
			return nil, fmt.Errorf("drbdsetup status --json: a resource without name or role")
		}
		r := Resource{Name: x.Name, Role: x.Role, Disk: "DUnknown", Minor: -1}
		for _, d := range x.Devices {
			if d.Volume == 0 {
				r.Disk, r.Minor, r.Quorum = d.Disk, d.Minor, d.Quorum
			}
		}
		for _, c := range x.Connections {
			p := Peer{Name: c.Name, Connection: c.State, Role: c.Role, Disk: "DUnknown"}
			for _, pd := range c.Peers {
				if pd.Volume == 0 {
					p.Replication, p.Disk, p.OutOfSync = pd.Replication, pd.Disk, pd.OutOfSync
					if pd.Replication != "Established" && pd.InSync < 100 {
						p.SyncedPct = pd.InSync
					}
				}
			}
			r.Peers = append(r.Peers, p)
		}
		out = append(out, r)
	}
	return out, nil
}
