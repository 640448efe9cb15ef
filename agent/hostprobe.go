package agent

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// hostProbe asks whether the DRBD peer's host still lives once its agent has gone quiet while DRBD
// still calls it Primary. DRBD notices a dead peer only after its ping interval twice and its ping
// timeout (about 5 s under load with keyha's 2 s); any live kernel answers a TCP connection to the
// peer's agent-check port at once, accepted by its agent or refused without one, so a killed or
// restarting agent never looks like a dead host. No answer twice in a row: the host is dead or cut
// off, and DRBD will drop the link anyway. A probe never seen to answer the peer while it lived (a
// firewall that drops it) proves nothing and is not used.
type hostProbe struct {
	addr    string
	timeout time.Duration
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	works   atomic.Bool  // it answered, the last time it was tried on a peer heard alive
	misses  atomic.Int32 // probes unanswered in a row
}

func newHostProbe(addr string) *hostProbe {
	var d net.Dialer
	return &hostProbe{addr: addr, timeout: 400 * time.Millisecond, dial: d.DialContext}
}

// answered probes once: whether the host accepted or refused a connection within the timeout.
func (p *hostProbe) answered(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := p.dial(ctx, "tcp", p.addr)
	if err == nil {
		c.Close()
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// down probes and reports whether the host has now missed two probes in a row, with a probe known
// to reach it.
func (p *hostProbe) down(ctx context.Context) bool {
	if p.answered(ctx) {
		p.misses.Store(0)
		return false
	}
	return p.misses.Add(1) >= 2 && p.works.Load()
}

// calibrate tries the probe on a peer heard alive; it reports the result and whether it changed.
func (p *hostProbe) calibrate(ctx context.Context) (works, changed bool) {
	works = p.answered(ctx)
	return works, p.works.Swap(works) != works
}
