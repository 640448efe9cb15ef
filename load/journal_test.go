package load

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	h := Header{Run: "0123456789abcdef", Rows: 1000, Created: time.Unix(1700000000, 5)}
	w, err := CreateJournal(path, h, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for id := uint64(1000); id >= 1 && id <= 1000; id -= 3 {
		if err := w.Append(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Synced() != 334 {
		t.Errorf("synced %d, want 334", w.Synced())
	}
	a, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.Run != h.Run || a.Rows != 1000 || !a.Created.Equal(h.Created) || a.Count != 334 || a.Dups != 0 || a.Torn {
		t.Errorf("read back %+v", a.Header)
	}
	for id := uint64(0); id <= 1001; id++ {
		if want := id >= 1 && id <= 1000 && (1000-id)%3 == 0; a.Has(id) != want {
			t.Fatalf("Has(%d)=%v", id, a.Has(id))
		}
	}
	if _, err := CreateJournal(path, h, time.Millisecond); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrote a journal: %v", err)
	}
}

func TestJournalDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	h := Header{Run: "00000000000000aa", Rows: 10, Created: time.Now()}
	w, err := CreateJournal(path, h, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(1, 2, 2, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)

	torn := append(bytes.Clone(good), 1, 2, 3)
	a, err := readJournal(bytes.NewReader(torn))
	if err != nil || !a.Torn || a.Count != 3 || a.Dups != 1 {
		t.Errorf("torn tail: %+v, %v", a, err)
	}
	for name, data := range map[string][]byte{
		"bad magic":       append([]byte("NOTAJRNL"), good[8:]...),
		"header checksum": func() []byte { b := bytes.Clone(good); b[30] ^= 1; return b }(),
		"record checksum": func() []byte { b := bytes.Clone(good); b[headerSize+recordSize] ^= 1; return b }(),
		"short header":    good[:20],
	} {
		if _, err := readJournal(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzReadJournal(f *testing.F) {
	var buf bytes.Buffer
	buf.Write(Header{Run: "0123456789abcdef", Rows: 100}.encode())
	f.Add(buf.Bytes())
	f.Add([]byte(journalMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := readJournal(bytes.NewReader(data))
		if err != nil {
			return
		}
		n := uint64(0)
		for id := uint64(1); id <= min(a.Rows, 1<<16); id++ {
			if a.Has(id) {
				n++
			}
		}
		if a.Rows <= 1<<16 && n != a.Count {
			t.Fatalf("count %d, bitmap holds %d", a.Count, n)
		}
	})
}
