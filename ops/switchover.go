package ops

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/writer"
)

// HoldFor is how long a switchover may keep the cluster without a writer before the hold expires
// by itself and the agents choose a writer again.
const HoldFor = 20 * time.Second

// Switchover moves the writer to site `to`: it refuses when the target is not healthy and caught
// up; otherwise it records "no writer" (a hold), waits until the old writer is out of every
// HAProxy, records the new writer and waits until every HAProxy sends to it alone.
func Switchover(ctx context.Context, c *config.Cluster, to string, out io.Writer) error {
	k, err := NewController(c, out)
	if err != nil {
		return err
	}
	start := time.Now()
	target, err := c.Site(to)
	if err != nil {
		return err
	}
	sts := Fetch(ctx, c, 3*time.Second)
	var tst *AgentStatus
	for i := range sts {
		if sts[i].Site == to {
			tst = &sts[i]
		}
	}
	old, why := Writer(sts)
	switch {
	case tst.Err != "":
		return fmt.Errorf("refused: cannot ask %s's agent: %s", to, tst.Err)
	case why != "":
		return fmt.Errorf("refused: %s; wait for them to converge (keyha status)", why)
	case old == to:
		fmt.Fprintf(out, "%s is already the writer\n", to)
		return nil
	case tst.Health != "up" || tst.Detail.Snapshot.LocalState != galera.StateSynced:
		return fmt.Errorf("refused: %s is not a healthy Synced node (%s: %s)", to, tst.Health, tst.Reason)
	case tst.Detail.Snapshot.RecvQueue > 16:
		return fmt.Errorf("refused: %s is not caught up: %d write-sets wait in its receive queue", to, tst.Detail.Snapshot.RecvQueue)
	}
	cred, err := c.Credential("admin")
	if err != nil {
		return err
	}
	db, err := galera.Open(target.SQL, cred, 5*time.Second, 5*time.Second, nil)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(2)
	defer db.Close()
	row, err := galera.ReadWriter(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "switchover %s -> %s (epoch %d)\n", orDash(old), to, row.Epoch)

	epoch, err := galera.SetWriter(ctx, db, writer.Hold, row.Epoch, HoldFor, "switchover", "switchover to "+to)
	if err != nil {
		return fmt.Errorf("hold the writer: %w", err)
	}
	if old != "" {
		if err := k.waitHAProxies(ctx, func(up []string) bool { return !contains(up, old) }, 10*time.Second); err != nil {
			return fmt.Errorf("%s still in service after the hold (it expires by itself in %s): %w", old, HoldFor, err)
		}
	}
	held := time.Since(start)
	if _, err := galera.SetWriter(ctx, db, to, epoch, 0, "switchover", "switchover from "+orDash(old)); err != nil {
		return fmt.Errorf("record %s as writer (the hold expires by itself in %s): %w", to, HoldFor, err)
	}
	if err := k.waitHAProxies(ctx, func(up []string) bool { return len(up) == 1 && up[0] == to }, 15*time.Second); err != nil {
		return fmt.Errorf("%s recorded as writer, but not every HAProxy sends to it alone yet: %w", to, err)
	}
	fmt.Fprintf(out, "done in %s: %s out of every HAProxy after %s, %s the only server UP in every HAProxy\n",
		time.Since(start).Round(time.Millisecond), orDash(old), held.Round(time.Millisecond), to)
	return nil
}

// waitHAProxies polls every site's HAProxy, through that site's agent (which reads its runtime
// socket), until ok holds for the list of UP servers of each.
func (k *Controller) waitHAProxies(ctx context.Context, ok func(up []string) bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		all := true
		last = ""
		for _, s := range k.Cluster.Sites {
			if s.HAProxySocket == "" {
				continue
			}
			var rows []haproxy.ServerStat
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := k.call(cctx, s.Name, "GET", "/haproxy/galera", &rows)
			cancel()
			if err != nil {
				all, last = false, last+" "+err.Error()
				continue
			}
			var up []string
			for _, r := range rows {
				if r.Status == "UP" {
					up = append(up, r.Server)
				}
			}
			last += fmt.Sprintf(" %s:%v", s.Name, up)
			all = all && ok(up)
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s; HAProxies:%s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
