package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/control"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/pki"
)

// Controller drives the agents' control endpoints for the Galera operator commands.
type Controller struct {
	Cluster *config.Cluster
	Client  *control.Client
	Out     io.Writer
}

// NewController reads the cluster key that signs control requests.
func NewController(c *config.Cluster, out io.Writer) (*Controller, error) {
	if c.Gossip.KeyFile == "" {
		return nil, errors.New("gossip.key_file is not set: the agents accept control requests only signed with that key")
	}
	key, err := membership.ReadKey(c.Gossip.KeyFile)
	if err != nil {
		return nil, err
	}
	return &Controller{Cluster: c, Client: &control.Client{Keys: control.Derive(key),
		Agent: func(site string) (*http.Client, string, error) { return pki.AgentClient(c, site, 5*time.Minute) }}, Out: out}, nil
}

func (k *Controller) call(ctx context.Context, site, method, uri string, out any) (control.Reply, error) {
	s, err := k.Cluster.Site(site)
	if err != nil {
		return control.Reply{}, err
	}
	if s.HTTP == "" {
		return control.Reply{}, fmt.Errorf("site %s has no agent http address in the cluster file", site)
	}
	return k.Client.Call(ctx, site, s.HTTP, method, uri, out)
}

// step prints what is being done and, when it ends, how long it took.
func (k *Controller) step(what string, f func() error) error {
	t0 := time.Now()
	fmt.Fprintf(k.Out, "- %s ...", what)
	err := f()
	if err != nil {
		fmt.Fprintf(k.Out, " FAILED after %.1fs\n", time.Since(t0).Seconds())
		return fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(k.Out, " done in %.1fs\n", time.Since(t0).Seconds())
	return nil
}

// Positions asks every site's agent for its node's position, all at once.
func (k *Controller) Positions(ctx context.Context) []galera.SitePosition {
	out := make([]galera.SitePosition, len(k.Cluster.Sites))
	var wg sync.WaitGroup
	for i, s := range k.Cluster.Sites {
		wg.Go(func() {
			var p galera.SitePosition
			if _, err := k.call(ctx, s.Name, "GET", "/galera/position", &p); err != nil {
				p = galera.SitePosition{Err: err.Error()}
			}
			p.Site, p.Priority = s.Name, s.Priority
			out[i] = p
		})
	}
	wg.Wait()
	return out
}

// DefaultStepTimeout bounds each wait for a node to become Synced.
const DefaultStepTimeout = 5 * time.Minute

// RecoverOptions are keyha galera recover's flags.
type RecoverOptions struct {
	DryRun       bool
	ForceWithout []string
	Timeout      time.Duration
}

// Recover brings a cluster without a Primary component back: it plans (galera.PlanRecovery),
// prints the plan, bootstraps the most advanced node, starts the others and waits until every
// site is Synced.
func (k *Controller) Recover(ctx context.Context, o RecoverOptions) error {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	start := time.Now()
	ps := k.Positions(ctx)
	fmt.Fprintf(k.Out, "positions (%.1fs):\n", time.Since(start).Seconds())
	for _, p := range ps {
		if p.Err != "" {
			fmt.Fprintf(k.Out, "  %-8s UNKNOWN: %s\n", p.Site, p.Err)
			continue
		}
		state := "stopped"
		if p.Running {
			state = "running, " + p.ClusterStatus
		}
		fmt.Fprintf(k.Out, "  %-8s %s (%s; from %s; safe_to_bootstrap %v)\n", p.Site, p.Position, state, p.Source, p.SafeToBootstrap)
	}
	plan, err := galera.PlanRecovery(ps, o.ForceWithout)
	if err == nil && len(plan.Forced) > 0 {
		// "Cannot be asked" from here is not "gone": the other agents may still hear it.
		if err = forcedButHeard(plan.Forced, Fetch(ctx, k.Cluster, 3*time.Second)); err != nil {
			return fmt.Errorf("refused: %w", err)
		}
	}
	if errors.Is(err, galera.ErrPrimaryExists) && allSyncedPrimary(ps) {
		fmt.Fprintf(k.Out, "nothing to recover: all %d sites are in a Primary component\n", len(ps))
		return nil
	}
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	fmt.Fprintf(k.Out, "plan: bootstrap %s by %s (%s)", plan.Bootstrap, plan.Method, plan.Why)
	if len(plan.Start) > 0 {
		fmt.Fprintf(k.Out, "; then start %s", strings.Join(plan.Start, ", "))
	}
	if len(plan.Rejoin) > 0 {
		fmt.Fprintf(k.Out, "; %s rejoin by themselves", strings.Join(plan.Rejoin, ", "))
	}
	if len(plan.Forced) > 0 {
		fmt.Fprintf(k.Out, "; WITHOUT %s (--force-without)", strings.Join(plan.Forced, ", "))
	}
	fmt.Fprintln(k.Out)
	if o.DryRun {
		fmt.Fprintln(k.Out, "dry run: nothing done")
		return nil
	}
	err = k.step(fmt.Sprintf("bootstrap %s (%s)", plan.Bootstrap, plan.Method), func() error {
		_, err := k.call(ctx, plan.Bootstrap, "POST", "/galera/bootstrap?method="+url.QueryEscape(plan.Method), nil)
		if err != nil {
			return err
		}
		return k.waitSynced(ctx, []string{plan.Bootstrap}, o.Timeout)
	})
	if err != nil {
		return err
	}
	if len(plan.Start) > 0 {
		err = k.step("start "+strings.Join(plan.Start, ", "), func() error {
			errs := make([]error, len(plan.Start))
			var wg sync.WaitGroup
			for i, s := range plan.Start {
				wg.Go(func() { _, errs[i] = k.call(ctx, s, "POST", "/galera/start", nil) })
			}
			wg.Wait()
			return errors.Join(errs...)
		})
		if err != nil {
			return err
		}
	}
	rest := append(slices.Clone(plan.Start), plan.Rejoin...)
	if len(rest) > 0 {
		if err := k.step("wait until "+strings.Join(rest, ", ")+" Synced", func() error { return k.waitSynced(ctx, rest, o.Timeout) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(k.Out, "recovered: %d sites Synced in one Primary component, %.1fs from the command\n", len(ps)-len(plan.Forced), time.Since(start).Seconds())
	return nil
}

func allSyncedPrimary(ps []galera.SitePosition) bool {
	for _, p := range ps {
		if p.Err != "" || !p.Running || p.ClusterStatus != "Primary" {
			return false
		}
	}
	return true
}

// waitSynced polls the agents until each site's node is Synced in a Primary component.
func (k *Controller) waitSynced(ctx context.Context, sites []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		sts := Fetch(ctx, k.Cluster, 2*time.Second)
		var waiting []string
		for _, st := range sts {
			if !slices.Contains(sites, st.Site) {
				continue
			}
			sn := st.Detail.Snapshot
			if st.Err != "" || sn.ClusterStatus != "Primary" || sn.LocalState != galera.StateSynced {
				waiting = append(waiting, fmt.Sprintf("%s (%s %s%s)", st.Site, orDash(sn.ClusterStatus), orDash(sn.LocalStateComment), errSuffix(st.Err)))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not Synced within %s: %s", timeout, strings.Join(waiting, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return "; " + e
}

// waitState polls one site's agent until cond holds for its report.
func (k *Controller) waitState(ctx context.Context, site string, timeout time.Duration, what string, cond func(AgentStatus) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		for _, st := range Fetch(ctx, k.Cluster, 2*time.Second) {
			if st.Site == site && st.Err == "" && cond(st) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not %s within %s", site, what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// RollingRestart restarts every site's mysqld one at a time: maintenance on (out of every
// HAProxy), clean stop, start, wait Synced, maintenance off. The writer goes last, after a
// switchover to the best other site. It stops at the first failure, leaving that site in
// maintenance and the others serving.
func (k *Controller) RollingRestart(ctx context.Context, timeout time.Duration) error {
	start := time.Now()
	sts := Fetch(ctx, k.Cluster, 3*time.Second)
	for _, st := range sts {
		sn := st.Detail.Snapshot
		if st.Err != "" || sn.ClusterStatus != "Primary" || sn.LocalState != galera.StateSynced {
			return fmt.Errorf("refused: %s is not Synced in the Primary component (%s%s): a rolling restart starts from a healthy cluster", st.Site, orDash(sn.LocalStateComment), errSuffix(st.Err))
		}
	}
	w, why := Writer(sts)
	if why != "" && k.Cluster.Writer.Mode == "single" {
		return fmt.Errorf("refused: %s", why)
	}
	order := make([]config.Site, 0, len(k.Cluster.Sites))
	for _, s := range k.Cluster.Sites {
		if s.Name != w {
			order = append(order, s)
		}
	}
	slices.SortStableFunc(order, func(a, b config.Site) int { return a.Priority - b.Priority })
	if wsite, err := k.Cluster.Site(w); err == nil {
		order = append(order, *wsite)
	}
	for i, s := range order {
		if s.Name == w && i > 0 {
			next := order[0] // the highest-priority other site, restarted already
			for _, o := range order[:i] {
				if o.Priority > next.Priority {
					next = o
				}
			}
			if err := k.step(fmt.Sprintf("switch the writer from %s to %s", w, next.Name), func() error {
				return Switchover(ctx, k.Cluster, next.Name, io.Discard)
			}); err != nil {
				return err
			}
		}
		if err := k.restartOne(ctx, s.Name, timeout); err != nil {
			return fmt.Errorf("%w (stopped: %s stays in maintenance; the other sites keep serving)", err, s.Name)
		}
	}
	fmt.Fprintf(k.Out, "rolling restart done: %d sites in %.1fs\n", len(order), time.Since(start).Seconds())
	return nil
}

func (k *Controller) restartOne(ctx context.Context, site string, timeout time.Duration) error {
	return k.step("restart "+site, func() error {
		if _, err := k.call(ctx, site, "POST", "/maint?on=1&reason=rolling-restart", nil); err != nil {
			return err
		}
		var view int64 // the Galera view the node is in before it stops
		if err := k.waitState(ctx, site, 10*time.Second, "in maintenance", func(st AgentStatus) bool {
			view = st.Detail.Snapshot.ClusterConfID
			return st.State == "maint"
		}); err != nil {
			return err
		}
		if _, err := k.call(ctx, site, "POST", "/galera/stop", nil); err != nil {
			return err
		}
		if _, err := k.call(ctx, site, "POST", "/galera/start", nil); err != nil {
			return err
		}
		// Synced, in a later view: the agent's last poll may predate the stop and still say Synced
		// (seen: a 0.9 s "restart" that had not restarted yet). A node that left and came back is in
		// a newer view; comparing view numbers needs no clock.
		if err := k.waitState(ctx, site, timeout, "Synced again in a new view", func(st AgentStatus) bool {
			sn := st.Detail.Snapshot
			return sn.ClusterStatus == "Primary" && sn.LocalState == galera.StateSynced && sn.ClusterConfID > view
		}); err != nil {
			return err
		}
		return k.Maint(ctx, site, false, "")
	})
}

// Desync sets wsrep_desync at a site's node (for a backup: the node stops sending flow control
// and the agent reports it drained), or clears it.
func Desync(ctx context.Context, c *config.Cluster, site string, on bool, out io.Writer) error {
	s, err := c.Site(site)
	if err != nil {
		return err
	}
	cred, err := c.Credential("admin")
	if err != nil {
		return err
	}
	db, err := galera.Open(s.SQL, cred, 3*time.Second, 10*time.Second, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	v := "OFF"
	if on {
		v = "ON"
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL wsrep_desync = "+v); err != nil {
		return fmt.Errorf("set wsrep_desync=%s at %s: %w", v, site, err)
	}
	var state string
	db.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LOCAL_STATE_COMMENT'").Scan(&state)
	fmt.Fprintf(out, "%s: wsrep_desync=%s, node %s\n", site, v, state)
	return nil
}

// Maint puts a site's node in maintenance (on) or brings it back, through the site's agent, from
// wherever the operator is: the flag lives in that agent's state dir and survives its restarts.
// It returns once the agent answers accordingly (HAProxy follows within one agent-check).
func (k *Controller) Maint(ctx context.Context, site string, on bool, reason string) error {
	flag := "0"
	if on {
		flag = "1"
	}
	if _, err := k.call(ctx, site, "POST", "/maint?on="+flag+"&reason="+url.QueryEscape(reason), nil); err != nil {
		return err
	}
	what := "out of maintenance"
	if on {
		what = "in maintenance"
	}
	if k.Cluster.Mode == "drbd" {
		// A DRBD site in maintenance is never promoted; a Primary keeps serving.
		return k.waitDRBD(ctx, site, 10*time.Second, what, func(s DRBDSite) bool { return s.Detail.Maintenance == on })
	}
	return k.waitState(ctx, site, 10*time.Second, what, func(st AgentStatus) bool { return (st.State == "maint") == on })
}

// forcedButHeard refuses to leave out a site whose agent the other agents still hear over
// gossip: it is alive, and only this host cannot reach it (a cut path, a firewall). Its node may
// hold the most advanced position, or even run a Primary component of its own.
func forcedButHeard(forced []string, sts []AgentStatus) error {
	var problems []string
	for _, f := range forced {
		var by []string
		var what string
		for _, st := range sts {
			if st.Err != "" || st.Site == f {
				continue
			}
			p, ok := st.Detail.Peers[f]
			if !ok || p.Status != "alive" {
				continue
			}
			by = append(by, st.Site)
			if p.StateErr == "" {
				what = fmt.Sprintf(" (its node: %s, %s, last committed %d)", orDash(p.State.Health), orDash(p.State.NodeState), p.State.LastCommitted)
			}
		}
		if len(by) > 0 {
			problems = append(problems, fmt.Sprintf("--force-without %s: the agents at %s hear %s's agent alive over gossip%s; "+
				"it is not gone, this host cannot reach it: fix the path to its HTTP port, or run the command from a host that can",
				f, strings.Join(by, ", "), f, what))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
