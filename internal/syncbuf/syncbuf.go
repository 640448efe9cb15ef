// Package syncbuf is a bytes.Buffer one goroutine may write (exec's output copier, a progress
// line) while another reads it: what tests hand to a process as its stdout or stderr.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is safe for one writer and readers at the same time.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
