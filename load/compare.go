package load

import (
	"slices"
)

// ChunkSum is what a node (or the journal) says about one chunk of ids, computed inside the
// database: how many rows, the XOR of every row's CRC-32 and of every id's CRC-32, the sum of
// the ids, and how many payloads fail their own CRC.
type ChunkSum struct {
	Rows    uint64 `json:"rows"`
	RowXor  uint32 `json:"row_xor"`
	IDXor   uint32 `json:"id_xor"`
	IDSum   uint64 `json:"id_sum"`
	Corrupt uint64 `json:"corrupt"`
}

// idsMatch: the same set of ids, as far as count, XOR and sum can tell.
func (a ChunkSum) idsMatch(b ChunkSum) bool {
	return a.Rows == b.Rows && a.IDXor == b.IDXor && a.IDSum == b.IDSum
}

// journalSums folds the acknowledged ids into per-chunk sums: ids [k*chunk, (k+1)*chunk) form chunk k.
func journalSums(a *Acked, chunk uint64) map[uint64]ChunkSum {
	out := map[uint64]ChunkSum{}
	for id := uint64(1); id <= a.Rows; id++ {
		if !a.Has(id) {
			continue
		}
		s := out[id/chunk]
		s.Rows++
		s.IDXor ^= idCRC(id)
		s.IDSum += id
		out[id/chunk] = s
	}
	return out
}

// suspects returns the chunks to drill into: where a node's ids differ from the journal's, or
// where the nodes' rows differ from each other. Sorted.
func suspects(journal map[uint64]ChunkSum, nodes map[string]map[uint64]ChunkSum) []uint64 {
	all := map[uint64]bool{}
	for k := range journal {
		all[k] = true
	}
	for _, n := range nodes {
		for k := range n {
			all[k] = true
		}
	}
	var out []uint64
	for k := range all {
		var first *ChunkSum
		bad := false
		for _, n := range nodes {
			s := n[k]
			if !s.idsMatch(journal[k]) || s.Corrupt > 0 {
				bad = true
			}
			if first == nil {
				first = &s
			} else if s.Rows != first.Rows || s.RowXor != first.RowXor {
				bad = true
			}
		}
		if bad {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// RowSum is one row as a node holds it: its id and the CRC-32 of the whole row.
type RowSum struct {
	ID  uint64
	CRC uint32
}

// RowDiff is one id on which the nodes disagree, or which the journal has and a node lacks.
type RowDiff struct {
	ID      uint64   `json:"id"`
	Acked   bool     `json:"acknowledged"`
	Missing []string `json:"missing_at,omitempty"`
	Differ  []string `json:"differs_at,omitempty"` // sites whose row differs from the majority's
}

// ChunkFinding is the drill-down of one chunk.
type ChunkFinding struct {
	Chunk    uint64            `json:"chunk"`
	Lo       uint64            `json:"first_id"`
	Hi       uint64            `json:"last_id"`
	Missing  map[string]uint64 `json:"acknowledged_missing,omitempty"` // by site
	Unacked  uint64            `json:"present_unacknowledged"`         // ids present somewhere, never acknowledged
	Diverged bool              `json:"diverged"`                       // the nodes do not hold the same rows
	Rows     []RowDiff         `json:"rows,omitempty"`                 // the first few ids that differ
}

const maxRowDiffs = 20

// drill compares the rows each node holds for ids lo..hi with each other and with the journal.
// rows[site] must be sorted by id.
func drill(chunk, lo, hi uint64, acked func(uint64) bool, rows map[string][]RowSum) ChunkFinding {
	f := ChunkFinding{Chunk: chunk, Lo: lo, Hi: hi, Missing: map[string]uint64{}}
	sites := make([]string, 0, len(rows))
	for s := range rows {
		sites = append(sites, s)
	}
	slices.Sort(sites)
	pos := make([]int, len(sites))
	for id := lo; id <= hi; id++ {
		present := map[string]uint32{}
		for i, s := range sites {
			r := rows[s]
			for pos[i] < len(r) && r[pos[i]].ID < id {
				pos[i]++
			}
			if pos[i] < len(r) && r[pos[i]].ID == id {
				present[s] = r[pos[i]].CRC
			}
		}
		ack := acked(id)
		if len(present) == 0 && !ack {
			continue
		}
		d := RowDiff{ID: id, Acked: ack}
		votes := map[uint32]int{}
		for _, c := range present {
			votes[c]++
		}
		var major uint32
		for c, n := range votes {
			if n > votes[major] || (n == votes[major] && c < major) {
				major = c
			}
		}
		for _, s := range sites {
			c, ok := present[s]
			switch {
			case !ok:
				d.Missing = append(d.Missing, s)
				if ack {
					f.Missing[s]++
				}
			case c != major:
				d.Differ = append(d.Differ, s)
			}
		}
		if !ack && len(present) > 0 {
			f.Unacked++
		}
		if len(d.Differ) > 0 || (len(d.Missing) > 0 && len(present) > 0) {
			f.Diverged = true
		}
		if (len(d.Missing) > 0 || len(d.Differ) > 0) && len(f.Rows) < maxRowDiffs {
			f.Rows = append(f.Rows, d)
		}
	}
	for s, n := range f.Missing {
		if n == 0 {
			delete(f.Missing, s)
		}
	}
	return f
}
