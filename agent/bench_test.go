package agent_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
)

// questions reads the node's Questions counter: every statement it was sent, by anyone.
func questions(b *testing.B, db *sql.DB) float64 {
	var k, v string
	if err := db.QueryRowContext(context.Background(), "SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&k, &v); err != nil {
		b.Fatal(err)
	}
	n, _ := strconv.ParseFloat(v, 64)
	return n
}

func agentCheck(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "up") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

// run does b.N checks spread over `clients` goroutines and reports latency percentiles, checks/s
// and the database's statements/s meanwhile (1 extra for the reading of the counter itself).
// A pace of 0 is a closed loop (each client checks again at once: saturation); otherwise each
// client checks once per pace, as an HAProxy does once per agent-inter.
func run(b *testing.B, clients int, pace time.Duration, db *sql.DB, check func() error) {
	lat := make([]time.Duration, b.N)
	var next int64
	var mu sync.Mutex
	q0 := questions(b, db)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tick <-chan time.Time
			if pace > 0 {
				t := time.NewTicker(pace)
				defer t.Stop()
				tick = t.C
			}
			for {
				if tick != nil {
					<-tick
				}
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := check(); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	q1 := questions(b, db)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(b.N)/el.Seconds(), "checks/s")
	b.ReportMetric((q1-q0-1)/el.Seconds(), "db-stmts/s")
}

// BenchmarkCheck compares keyha's agent-check with a clustercheck-style check that forks the SQL
// client per check, at 1, 10 and 100 concurrent clients, on the lab's bari node.
func BenchmarkCheck(b *testing.B) {
	l := labtest.Get(b)
	db := l.DB(b, l.Sites["bari"].SQL, "lab")
	agent := func() error { return agentCheck(l.Sites["bari"].Agent) }
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("agent/closed-loop/clients=%d", n), func(b *testing.B) { run(b, n, 0, db, agent) })
		b.Run(fmt.Sprintf("agent/every-20ms/clients=%d", n), func(b *testing.B) { run(b, n, 20*time.Millisecond, db, agent) })
	}
	script := filepath.Join(l.Root, "scripts", "bench", "clustercheck")
	cred := filepath.Join(l.Dir, "secrets", "monitor.cnf")
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("fork-per-check/clients=%d", n), func(b *testing.B) {
			run(b, n, 0, db, func() error { return exec.Command(script, cred, l.Sites["bari"].SQL).Run() })
		})
	}
	b.Run("agent-rss", func(b *testing.B) {
		pid, err := os.ReadFile(filepath.Join(l.Dir, "bari", "agent.pid"))
		if err != nil {
			b.Fatal(err)
		}
		st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/status")
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				b.ReportMetric(kb/1024, "rss-MB")
			}
		}
		for i := 0; i < b.N; i++ {
		}
	})
}
