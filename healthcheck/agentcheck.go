package healthcheck

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"
)

// AgentServer answers HAProxy's agent-check: on every connection it writes the current report as
// one line and closes. It reads nothing, so garbage, oversized or slow clients cannot hold it, and
// an idle client is dropped after the write deadline.
type AgentServer struct {
	Source  Source
	Log     *slog.Logger
	Served  func() // counts an answer; may be nil
	Timeout time.Duration
	MaxConn int // connections answered at once; more wait in the kernel's backlog
}

// Serve answers on l until ctx is cancelled.
func (a *AgentServer) Serve(ctx context.Context, l net.Listener) error {
	if a.Timeout == 0 {
		a.Timeout = 2 * time.Second
	}
	if a.MaxConn == 0 {
		a.MaxConn = 512
	}
	go func() { <-ctx.Done(); l.Close() }()
	slots := make(chan struct{}, a.MaxConn)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Out of file descriptors or a transient error: back off rather than spin.
			a.Log.Warn("agent-check accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			a.answer(c)
		}()
	}
}

func (a *AgentServer) answer(c net.Conn) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(a.Timeout))
	if _, err := c.Write([]byte(AgentReply(a.Source.Report()))); err != nil {
		return
	}
	if a.Served != nil {
		a.Served()
	}
	// Half-close so HAProxy reads the whole line before the connection goes.
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
