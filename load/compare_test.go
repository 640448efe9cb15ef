package load

import (
	"slices"
	"testing"
)

func rowsOf(ids ...uint64) []RowSum {
	out := make([]RowSum, len(ids))
	for i, id := range ids {
		out[i] = RowSum{ID: id, CRC: uint32(id * 7)}
	}
	return out
}

func sumsOf(chunk uint64, rows []RowSum) map[uint64]ChunkSum {
	out := map[uint64]ChunkSum{}
	for _, r := range rows {
		s := out[r.ID/chunk]
		s.Rows++
		s.RowXor ^= r.CRC
		s.IDXor ^= idCRC(r.ID)
		s.IDSum += r.ID
		out[r.ID/chunk] = s
	}
	return out
}

func ackedOf(rows uint64, ids ...uint64) *Acked {
	a := &Acked{Header: Header{Rows: rows}, bits: make([]uint64, rows/64+1)}
	for _, id := range ids {
		a.bits[id/64] |= 1 << (id % 64)
		a.Count++
	}
	return a
}

func TestSuspects(t *testing.T) {
	all := rowsOf(1, 2, 3, 10, 11, 25)
	j := journalSums(ackedOf(30, 1, 2, 3, 10, 11, 25), 10)
	same := map[string]map[uint64]ChunkSum{"a": sumsOf(10, all), "b": sumsOf(10, all)}
	if s := suspects(j, same); len(s) != 0 {
		t.Errorf("identical nodes: suspects %v", s)
	}
	lost := map[string]map[uint64]ChunkSum{"a": sumsOf(10, all), "b": sumsOf(10, rowsOf(1, 2, 3, 10, 25))}
	if s := suspects(j, lost); !slices.Equal(s, []uint64{1}) {
		t.Errorf("a row lost at b: suspects %v, want [1]", s)
	}
	changed := rowsOf(1, 2, 3, 10, 11, 25)
	changed[5].CRC++
	if s := suspects(j, map[string]map[uint64]ChunkSum{"a": sumsOf(10, all), "b": sumsOf(10, changed)}); !slices.Equal(s, []uint64{2}) {
		t.Errorf("a row changed at b: suspects %v, want [2]", s)
	}
	jLess := journalSums(ackedOf(30, 1, 2, 3, 10, 11), 10)
	if s := suspects(jLess, same); !slices.Equal(s, []uint64{2}) {
		t.Errorf("an unacknowledged row: suspects %v, want [2]", s)
	}
}

func TestDrill(t *testing.T) {
	a := ackedOf(20, 10, 11, 12, 13)
	changed := rowsOf(10, 11, 12, 13, 14)
	changed[2].CRC++
	f := drill(1, 10, 19, a.Has, map[string][]RowSum{
		"lngs":   rowsOf(10, 11, 12, 13, 14), // 14 was never acknowledged: allowed
		"bari":   rowsOf(10, 12, 13, 14),     // lost 11
		"padova": changed,                    // 12 differs
	})
	if f.Missing["bari"] != 1 || len(f.Missing) != 1 {
		t.Errorf("missing %v, want bari:1", f.Missing)
	}
	if f.Unacked != 1 || !f.Diverged {
		t.Errorf("unacked %d diverged %v", f.Unacked, f.Diverged)
	}
	want := []RowDiff{{ID: 11, Acked: true, Missing: []string{"bari"}}, {ID: 12, Acked: true, Differ: []string{"padova"}}}
	if len(f.Rows) != 2 || f.Rows[0].ID != 11 || !slices.Equal(f.Rows[0].Missing, want[0].Missing) ||
		f.Rows[1].ID != 12 || !slices.Equal(f.Rows[1].Differ, want[1].Differ) {
		t.Errorf("rows %+v, want %+v", f.Rows, want)
	}

	// An acknowledged row lost everywhere is loss, but not divergence.
	g := drill(1, 10, 19, ackedOf(20, 10, 11).Has, map[string][]RowSum{"lngs": rowsOf(10), "bari": rowsOf(10)})
	if g.Missing["lngs"] != 1 || g.Missing["bari"] != 1 || g.Diverged {
		t.Errorf("lost everywhere: %+v", g)
	}
}
