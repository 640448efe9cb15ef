package load

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"
)

// The journal is an append-only file of the ids the database acknowledged, so that a check can
// prove afterwards that none of them was lost. It is written only after the commit returned, and
// synced in batches: a crash of the harness loses at most the last unsynced batch, whose rows then
// count as present-but-unacknowledged, never as lost.
//
// Layout: a 44-byte header (magic, run id, rows planned, creation time, CRC-32 of those), then
// 12-byte records (id, CRC-32 of the id salted with the run id). A torn last record is ignored.
const (
	journalMagic = "KEYHAJ01"
	headerSize   = 8 + 16 + 8 + 8 + 4
	recordSize   = 12
)

// Header says which run a journal belongs to.
type Header struct {
	Run     string    // 16 hex digits, also stored in the database's meta table
	Rows    uint64    // ids are 1..Rows
	Created time.Time // when the run started
}

func (h Header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, journalMagic)
	copy(b[8:24], h.Run)
	binary.LittleEndian.PutUint64(b[24:], h.Rows)
	binary.LittleEndian.PutUint64(b[32:], uint64(h.Created.UnixNano()))
	binary.LittleEndian.PutUint32(b[40:], crc32.ChecksumIEEE(b[:40]))
	return b
}

func decodeHeader(b []byte) (Header, error) {
	if len(b) < headerSize || string(b[:8]) != journalMagic {
		return Header{}, errors.New("not a keyha load journal (bad magic)")
	}
	if crc32.ChecksumIEEE(b[:40]) != binary.LittleEndian.Uint32(b[40:]) {
		return Header{}, errors.New("journal header is corrupt (checksum mismatch)")
	}
	h := Header{Run: string(b[8:24]), Rows: binary.LittleEndian.Uint64(b[24:]),
		Created: time.Unix(0, int64(binary.LittleEndian.Uint64(b[32:])))}
	if _, err := hex.DecodeString(h.Run); err != nil {
		return Header{}, errors.New("journal header names no valid run id")
	}
	return h, nil
}

func recordCRC(run string, id uint64) uint32 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], id)
	return crc32.Update(crc32.ChecksumIEEE([]byte(run)), crc32.IEEETable, b[:])
}

// JournalWriter appends acknowledged ids. Append is safe for concurrent use; a background loop
// writes and fsyncs every SyncEvery. The first write error stops it for good: Err returns it, and
// the caller must stop loading, because acknowledgements could no longer be recorded.
type JournalWriter struct {
	f        *os.File
	run      string
	mu       sync.Mutex
	pending  []uint64
	err      error
	synced   uint64 // ids known durable
	stop     chan struct{}
	done     chan struct{}
	interval time.Duration
}

// CreateJournal makes a new journal at path; it never overwrites an existing file.
func CreateJournal(path string, h Header, syncEvery time.Duration) (*JournalWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("journal %s already exists: it may hold another run's acknowledgements; check it with `keyha load check --journal %s` or choose a new path", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	if _, err := f.Write(h.encode()); err != nil {
		f.Close()
		return nil, fmt.Errorf("write journal header to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync journal %s: %w", path, err)
	}
	w := &JournalWriter{f: f, run: h.Run, stop: make(chan struct{}), done: make(chan struct{}), interval: syncEvery}
	go w.loop()
	return w, nil
}

// Append queues ids for the next batch. It returns the writer's error once there is one.
func (w *JournalWriter) Append(ids ...uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.pending = append(w.pending, ids...)
	return nil
}

// Err is the first write or sync error, if any.
func (w *JournalWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Synced is how many ids are durable in the journal.
func (w *JournalWriter) Synced() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.synced
}

func (w *JournalWriter) loop() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			w.flush()
		case <-w.stop:
			w.flush()
			return
		}
	}
}

func (w *JournalWriter) flush() {
	w.mu.Lock()
	ids := w.pending
	w.pending = nil
	failed := w.err != nil
	w.mu.Unlock()
	if len(ids) == 0 || failed {
		return
	}
	bw := bufio.NewWriterSize(w.f, 64<<10)
	var rec [recordSize]byte
	var err error
	for _, id := range ids {
		binary.LittleEndian.PutUint64(rec[:], id)
		binary.LittleEndian.PutUint32(rec[8:], recordCRC(w.run, id))
		if _, err = bw.Write(rec[:]); err != nil {
			break
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = w.f.Sync()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.err = fmt.Errorf("journal %s: %w: %d acknowledged ids could not be recorded (they will count as present-but-unacknowledged)", w.f.Name(), err, len(ids))
		return
	}
	w.synced += uint64(len(ids))
}

// Close writes and syncs what is pending and closes the file.
func (w *JournalWriter) Close() error {
	close(w.stop)
	<-w.done
	cerr := w.f.Close()
	if err := w.Err(); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("close journal: %w", cerr)
	}
	return nil
}

// Acked is the set of acknowledged ids of a journal: a bitmap over 1..Rows, an eighth of a byte per
// planned row whatever the order the ids were written in.
type Acked struct {
	Header
	bits  []uint64
	Count uint64 // distinct ids acknowledged
	Dups  uint64 // ids recorded more than once (a harness bug if ever non-zero)
	Torn  bool   // the file ended inside a record (the harness died while writing)
}

// Has reports whether id was acknowledged.
func (a *Acked) Has(id uint64) bool {
	if id == 0 || id > a.Rows {
		return false
	}
	return a.bits[id/64]&(1<<(id%64)) != 0
}

// ReadJournal reads a journal into its set of acknowledged ids.
func ReadJournal(path string) (*Acked, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	a, err := readJournal(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	return a, nil
}

// maxJournalRows bounds the bitmap a header can ask for (1.2 GiB of bits): a corrupt header must
// not make the reader allocate without limit.
const maxJournalRows = 10_000_000_000

func readJournal(r io.Reader) (*Acked, error) {
	hb := make([]byte, headerSize)
	if _, err := io.ReadFull(r, hb); err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, errors.New("not a keyha load journal (shorter than its header)")
	} else if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	h, err := decodeHeader(hb)
	if err != nil {
		return nil, err
	}
	if h.Rows > maxJournalRows {
		return nil, fmt.Errorf("header plans %d rows, more than keyha supports", h.Rows)
	}
	a := &Acked{Header: h, bits: make([]uint64, h.Rows/64+1)}
	var rec [recordSize]byte
	for n := int64(0); ; n++ {
		k, err := io.ReadFull(r, rec[:])
		if err == io.EOF {
			return a, nil
		}
		if err == io.ErrUnexpectedEOF {
			a.Torn = k > 0
			return a, nil
		}
		if err != nil {
			return nil, err
		}
		id := binary.LittleEndian.Uint64(rec[:])
		if binary.LittleEndian.Uint32(rec[8:]) != recordCRC(h.Run, id) {
			return nil, fmt.Errorf("record %d (offset %d) is corrupt (checksum mismatch)", n, headerSize+n*recordSize)
		}
		if id == 0 || id > h.Rows {
			return nil, fmt.Errorf("record %d holds id %d, outside the run's 1..%d", n, id, h.Rows)
		}
		if a.Has(id) {
			a.Dups++
			continue
		}
		a.bits[id/64] |= 1 << (id % 64)
		a.Count++
	}
}
