package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/keyha/keyha/agent"
	"github.com/keyha/keyha/config"
)

// DRBDSite is what one site's agent reports in DRBD mode.
type DRBDSite struct {
	Site   string           `json:"site"`
	State  string           `json:"state"`
	Role   string           `json:"role"`
	Reason string           `json:"reason"`
	Detail agent.DRBDDetail `json:"detail"`
	Err    string           `json:"error,omitempty"`
}

// ready reports whether a planned promotion of this site can go ahead: Secondary, UpToDate,
// connected to a Secondary peer whose disk is UpToDate too (protocol C: nothing is lost), and
// its agent has heard over gossip that the peer's agent no longer reports Primary: the agent
// refuses to promote on a stale gossip view, so a promote asked earlier would fail.
func (s DRBDSite) ready(peer string) (bool, string) {
	r := s.Detail.Resource
	switch {
	case s.Err != "":
		return false, s.Err
	case r.Primary():
		return false, "it is Primary"
	case !r.UpToDate():
		return false, "its disk is " + r.Disk
	case !r.PeerLink():
		return false, "its replication link is down"
	case r.Peers[0].Role != "Secondary":
		return false, "the peer is " + r.Peers[0].Role
	case r.Peers[0].Disk != "UpToDate":
		return false, "the peer's disk is " + r.Peers[0].Disk
	case s.Detail.Heard[peer] == "Primary":
		return false, "its agent still hears " + peer + "'s agent report Primary (gossip not yet converged)"
	}
	return true, ""
}

// DRBDStatus asks every site's agent for its report, in parallel.
func (k *Controller) DRBDStatus(ctx context.Context) []DRBDSite {
	return fetchEach(ctx, k.Cluster, 3*time.Second, func(ctx context.Context, ac agentConn, s config.Site) DRBDSite {
		st := DRBDSite{}
		if err := getStatus(ctx, ac, s, &st); err != nil {
			st.Err = err.Error()
		}
		st.Site = s.Name
		return st
	})
}

// DRBDSwitchover moves the Primary role to site to with no acknowledged write lost: the Primary
// demotes (stack down, drbdadm secondary) while the link is up, then the target, connected to a
// Secondary with both disks UpToDate, promotes and starts the stack. It returns how long the
// database was unavailable (from the demotion's start to the target's agent answering up).
func (k *Controller) DRBDSwitchover(ctx context.Context, to string, timeout time.Duration) (time.Duration, error) {
	ts, err := k.Cluster.Site(to)
	if err != nil {
		return 0, err
	}
	if ts.Witness {
		return 0, fmt.Errorf("%s is the witness: it holds no data; switch over to a data site %v", to, k.Cluster.DataSites())
	}
	var from string
	for _, s := range k.Cluster.DataSites() {
		if s != to {
			from = s
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	get := func(site string) DRBDSite {
		for _, s := range k.DRBDStatus(ctx) {
			if s.Site == site {
				return s
			}
		}
		return DRBDSite{Site: site, Err: "not in the cluster file"}
	}
	if t := get(to); t.Detail.Resource.Primary() && t.State == "up" {
		fmt.Fprintf(k.Out, "%s is already the Primary and up: nothing to do\n", to)
		return 0, nil
	}
	if t := get(to); t.Detail.Maintenance {
		return 0, fmt.Errorf("refused: %s is in maintenance, it would not be promoted; end it first (keyha agent maint off --site %s)", to, to)
	}
	t0 := time.Now()
	if f := get(from); f.Detail.Resource.Primary() {
		if r := f.Detail.Resource; !r.PeerLink() || r.Peers[0].Disk != "UpToDate" {
			return 0, fmt.Errorf("%s is Primary but %s is not connected and UpToDate: a switchover now would lose writes; wait for the resync (keyha drbd status)", from, to)
		}
		if err := k.step("demote "+from, func() error {
			_, err := k.call(ctx, from, http.MethodPost, "/drbd/demote?to="+url.QueryEscape(to), nil)
			return err
		}); err != nil {
			return 0, err
		}
	}
	if err := k.step("wait until "+to+" is ready (Secondary, UpToDate, peer Secondary)", func() error {
		return poll(ctx, func() (bool, string) { return get(to).ready(from) })
	}); err != nil {
		return 0, err
	}
	if err := k.step("promote "+to, func() error {
		_, err := k.call(ctx, to, http.MethodPost, "/drbd/promote", nil)
		return err
	}); err != nil {
		return 0, err
	}
	if err := k.step("wait until the agent at "+to+" answers up", func() error {
		return poll(ctx, func() (bool, string) {
			s := get(to)
			return s.State == "up", s.Reason
		})
	}); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	fmt.Fprintf(k.Out, "switchover to %s: the database was unavailable for %.2fs\n", to, d.Seconds())
	return d, nil
}

// FencePeer is DRBD's fence-peer handler: it asks this site's agent to fence its peer and
// returns DRBD's exit code: 4 (peer outdated) once a majority holds the fence, 1 otherwise, which
// leaves the resource's I/O frozen (fencing resource-and-stonith).
func (k *Controller) FencePeer(ctx context.Context, site string) (int, error) {
	_, err := k.call(ctx, site, http.MethodPost, "/drbd/fence", nil)
	if err != nil {
		return 1, err
	}
	return 4, nil
}

func poll(ctx context.Context, f func() (bool, string)) error {
	last := ""
	for {
		ok, why := f()
		if ok {
			return nil
		}
		last = why
		select {
		case <-ctx.Done():
			return errors.New("not reached before the deadline: " + last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitDRBD polls site's agent until cond holds for its report.
func (k *Controller) waitDRBD(ctx context.Context, site string, timeout time.Duration, what string, cond func(DRBDSite) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := poll(ctx, func() (bool, string) {
		for _, s := range k.DRBDStatus(ctx) {
			if s.Site == site {
				return s.Err == "" && cond(s), s.Err + s.Reason
			}
		}
		return false, "not in the cluster file"
	})
	if err != nil {
		return fmt.Errorf("%s: not %s within %s: %w", site, what, timeout, err)
	}
	return nil
}

// PrintDRBDSites writes every site's DRBD view as a table (keyha drbd sites, and keyha status in
// DRBD mode).
func PrintDRBDSites(w io.Writer, sites []DRBDSite) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tROLE\tDISK\tLINK\tDB\tSTATE\tFENCE\tREASON")
	serving := 0
	for _, s := range sites {
		if s.Err != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tdown\t-\t%s\n", s.Site, s.Err)
			continue
		}
		r, link := s.Detail.Resource, "-"
		if len(r.Peers) > 0 {
			link = r.Peers[0].State()
		}
		fence := s.Detail.Fence
		if s.Detail.Ack != "" {
			fence = "holds " + s.Detail.Ack
		}
		if s.State == "up" {
			serving++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", s.Site, orDash(r.Role), orDash(r.Disk), link, s.Detail.DBUp, s.State, orDash(fence), s.Reason)
	}
	tw.Flush()
	switch serving {
	case 0:
		fmt.Fprintln(w, "serving: none (no site's agent answers up)")
	case 1:
		for _, s := range sites {
			if s.Err == "" && s.State == "up" {
				fmt.Fprintln(w, "serving:", s.Site)
			}
		}
	default:
		fmt.Fprintf(w, "serving: %d SITES ANSWER UP: check at once (keyha drbd split-brain)\n", serving)
	}
}
