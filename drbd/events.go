package drbd

import (
	"fmt"
	"slices"
	"strings"
)

// Events folds DRBD 9's `drbdsetup events2` stream into the model: "exists" lines give the
// state at start, "change", "create" and "destroy" lines what happens next. Volume 0 only.
//
//	exists resource name:r0 role:Primary suspended:no
//	exists connection name:r0 peer-node-id:1 conn-name:bari connection:Connected role:Secondary
//	change peer-device name:r0 peer-node-id:1 conn-name:bari volume:0 replication:SyncSource peer-disk:Inconsistent
type Events struct {
	res map[string]*Resource
}

// NewEvents returns an empty model.
func NewEvents() *Events { return &Events{res: map[string]*Resource{}} }

// Apply folds one line in. Lines of other kinds (call, response, the "exists -" marker) are
// ignored; a line of a known kind without a resource name is an error.
func (e *Events) Apply(line string) error {
	f := strings.Fields(line)
	if len(f) < 2 {
		return nil
	}
	verb, obj := f[0], f[1]
	switch verb {
	case "exists", "create", "change", "destroy":
	default:
		return nil
	}
	if obj == "-" {
		return nil
	}
	kv := kvs(f[2:])
	name := kv["name"]
	if name == "" {
		return fmt.Errorf("events2: %q has no name", line)
	}
	if kv["volume"] != "" && kv["volume"] != "0" {
		return nil
	}
	r := e.res[name]
	if r == nil {
		if verb == "destroy" {
			return nil
		}
		r = &Resource{Name: name, Role: "Unknown", Disk: "DUnknown", Minor: -1}
		e.res[name] = r
	}
	switch obj {
	case "resource":
		if verb == "destroy" {
			delete(e.res, name)
			return nil
		}
		if v, ok := kv["role"]; ok {
			r.Role = v
		}
		if v, ok := kv["suspended"]; ok {
			r.Suspended = v != "no" // user, no-data, fencing, quorum
		}
	case "device":
		if verb == "destroy" {
			r.Disk = "DUnknown"
			return nil
		}
		if v, ok := kv["disk"]; ok {
			r.Disk = v
		}
		if v, ok := kv["quorum"]; ok {
			q := v == "yes"
			r.Quorum = &q
		}
	case "connection", "peer-device":
		peer := kv["conn-name"]
		if peer == "" {
			peer = kv["peer-node-id"]
		}
		i := slices.IndexFunc(r.Peers, func(p Peer) bool { return p.Name == peer })
		if verb == "destroy" && obj == "connection" {
			if i >= 0 {
				r.Peers = slices.Delete(r.Peers, i, i+1)
			}
			return nil
		}
		if i < 0 {
			r.Peers = append(r.Peers, Peer{Name: peer, Connection: "StandAlone", Role: "Unknown", Disk: "DUnknown"})
			i = len(r.Peers) - 1
		}
		p := &r.Peers[i]
		if v, ok := kv["connection"]; ok {
			p.Connection = v
		}
		if v, ok := kv["role"]; ok {
			p.Role = v
		}
		if v, ok := kv["replication"]; ok {
			p.Replication = v
		}
		if v, ok := kv["peer-disk"]; ok {
			p.Disk = v
		}
	}
	return nil
}

// Resources returns the model's resources, by name.
func (e *Events) Resources() []Resource {
	out := make([]Resource, 0, len(e.res))
	for _, r := range e.res {
		c := *r
		c.Peers = slices.Clone(r.Peers)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.Name, b.Name) })
	return out
}
