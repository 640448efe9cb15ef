package agent

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestHostProbe against real sockets: a listener answers, a closed port is refused (a live host),
// and an address that drops the SYN (a dialer that never connects stands for the dead host, which
// this machine cannot make without a network of its own) misses.
func TestHostProbe(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()

	for _, c := range []struct {
		name string
		addr string
		want bool
	}{{"agent listening", l.Addr().String(), true}, {"agent gone, host alive (refused)", refused, true}} {
		if got := newHostProbe(c.addr).answered(ctx); got != c.want {
			t.Errorf("%s: answered %v, want %v", c.name, got, c.want)
		}
	}

	silent := newHostProbe("192.0.2.1:9250")
	silent.timeout = 50 * time.Millisecond
	silent.dial = func(ctx context.Context, _, _ string) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }
	if silent.down(ctx) {
		t.Error("down before the probe was ever seen to work")
	}
	if silent.down(ctx) {
		t.Error("down after two misses, but the probe never reached the peer alive: it proves nothing")
	}
	// The same probe, known to reach the peer while it lived.
	silent.misses.Store(0)
	silent.works.Store(true)
	if silent.down(ctx) {
		t.Error("down after a single miss")
	}
	if !silent.down(ctx) {
		t.Error("not down after two misses in a row")
	}
	if works, changed := silent.calibrate(ctx); works || !changed {
		t.Errorf("calibrate on a silent host: works %v changed %v, want false true", works, changed)
	}

	// One answer between misses starts the count again.
	flaky := newHostProbe(refused)
	flaky.works.Store(true)
	answer := true
	flaky.dial = func(ctx context.Context, n, a string) (net.Conn, error) {
		answer = !answer
		if answer {
			var d net.Dialer
			return d.DialContext(ctx, n, a)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	flaky.timeout = 50 * time.Millisecond
	for i := range 6 {
		if flaky.down(ctx) {
			t.Fatalf("probe %d: down, though the host answered every other probe", i)
		}
	}
}
