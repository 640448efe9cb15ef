package galera_test

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/internal/labtest"
)

// TestWatch: the watch (a session held in DO SLEEP) wakes the agent when its mysqld is killed,
// and the poll it triggers finds the process gone; a paused (SIGSTOP) mysqld keeps the session,
// and wakes nobody.
func TestWatch(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	cred, err := l.Cluster(t).ReadCredential(filepath.Join(l.Dir, "secrets", "monitor.cnf"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := galera.NewPoller(l.Sites["padova"].SQL, cred, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	woken := make(chan time.Time, 16)
	go p.Watch(100*time.Millisecond, func() { woken <- time.Now() })
	lab := l.DB(t, l.Sites["padova"].SQL, "lab")
	padova, _, _ := net.SplitHostPort(l.Sites["padova"].SQL)
	labtest.Eventually(t, 30*time.Second, "the watch's session held at padova", func() (bool, string) {
		var n int
		// This test's, from the host: padova's agent holds one too, from padova's own address.
		err := lab.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP(%' AND HOST NOT LIKE ?", padova+":%").Scan(&n)
		return err == nil && n == 1, "sessions waiting: " + strconv.Itoa(n)
	})

	l.Lab(t, "pause", "padova")
	// Nothing can happen to show that nothing happened: watch for a while, well past the poll
	// interval the wake exists to beat, and short of evs.suspect_timeout (the lab's 2.5 s).
	select {
	case at := <-woken:
		t.Errorf("a paused mysqld woke the agent (%s after the pause)", time.Since(at))
	case <-time.After(2 * time.Second):
	}
	l.Lab(t, "resume", "padova")

	killed := time.Now()
	l.Lab(t, "kill", "padova")
	t.Cleanup(func() {
		l.Lab(t, "start", "padova")
		l.AllSynced(t, 2*time.Minute)
	})
	select {
	case at := <-woken:
		t.Logf("woken %s after the kill was issued", at.Sub(killed).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("killing padova's mysqld woke nobody within 10 s")
	}
	if s := p.Poll(context.Background()); !s.Gone {
		t.Errorf("the poll after the wake does not find padova's mysqld gone: %+v", s)
	}
}
