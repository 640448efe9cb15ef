package drill

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyha/keyha/config"
)

// Cross is one round of Tokens: which site issued each token, and what each site answered when
// asked to validate it ("" for yes).
type Cross struct {
	Sites  []string
	Issue  map[string]string            // site -> error issuing its token; "" when issued
	Answer map[string]map[string]string // issuing site -> validating site -> error; "" when valid
	// By is, for each site whose token was issued, which site's Keystone issued it, as the site's
	// HAProxy names it: its own, or another site's standing in as a backup while its own is down.
	By map[string]string
}

// NotOwn lists the sites whose token another site's Keystone issued (or whose HAProxy did not
// say which), each with the issuer: right after a deployment, a site whose own Keystone is not
// serving yet.
func (x Cross) NotOwn() []string {
	var out []string
	for _, s := range x.Sites {
		if x.Issue[s] == "" && x.By[s] != s {
			out = append(out, fmt.Sprintf("%s (by %s)", s, orUnknown(x.By[s])))
		}
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "a Keystone its HAProxy did not name"
	}
	return s
}

// Failed counts what went wrong: tokens not issued, validations refused or failed.
func (x Cross) Failed() int {
	n := 0
	for _, from := range x.Sites {
		if x.Issue[from] != "" {
			n++
			continue
		}
		for _, at := range x.Sites {
			if x.Answer[from][at] != "" {
				n++
			}
		}
	}
	return n
}

// Print writes the matrix: a row per issuing site, a column per validating site.
func (x Cross) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "token of\tvalid at %s\n", strings.Join(x.Sites, "\tat "))
	for _, from := range x.Sites {
		cells := []string{from}
		for _, at := range x.Sites {
			switch {
			case x.Issue[from] != "":
				cells = append(cells, "-")
			case x.Answer[from][at] == "":
				cells = append(cells, "ok")
			default:
				cells = append(cells, "FAILED")
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	for _, from := range x.Sites {
		if e := x.Issue[from]; e != "" {
			fmt.Fprintf(w, "issue at %s: %s\n", from, e)
		}
		for _, at := range x.Sites {
			if e := x.Answer[from][at]; e != "" {
				fmt.Fprintf(w, "validate at %s a token of %s: %s\n", at, from, e)
			}
		}
	}
	if o := x.NotOwn(); len(o) > 0 {
		fmt.Fprintf(w, "issued by another site's Keystone (its own not serving through its HAProxy): %s\n", strings.Join(o, ", "))
	}
}

// CrossTokens issues a token for user at every site's Keystone front (sites[].keystone.front)
// and validates each at every site: one database and one set of keys everywhere, or some cell
// fails. Each site validates with its own token. timeout bounds each request (0: the drill's 3 s).
func CrossTokens(ctx context.Context, c *config.Cluster, user, password string, timeout time.Duration) (Cross, error) {
	x := Cross{Issue: map[string]string{}, Answer: map[string]map[string]string{}, By: map[string]string{}}
	ks := map[string]*Keystone{}
	tokens := map[string]string{}
	for _, s := range c.Sites {
		if s.Keystone.Front == "" {
			continue
		}
		k, err := SiteKeystone(c, s.Name)
		if err != nil {
			return x, err
		}
		if timeout > 0 {
			k.HTTP.Timeout = timeout
		}
		x.Sites, ks[s.Name] = append(x.Sites, s.Name), k
		tok, by, err := k.IssueBy(ctx, user, password)
		if err != nil {
			x.Issue[s.Name] = err.Error()
			continue
		}
		tokens[s.Name], x.By[s.Name] = tok, by
	}
	if len(x.Sites) == 0 {
		return x, fmt.Errorf("no site has a Keystone front (sites[].keystone.front)")
	}
	for _, from := range x.Sites {
		x.Answer[from] = map[string]string{}
		for _, at := range x.Sites {
			if tokens[from] == "" {
				continue
			}
			if tokens[at] == "" {
				x.Answer[from][at] = "no token of " + at + "'s own to ask with"
				continue
			}
			if err := ks[at].Validate(ctx, tokens[at], tokens[from]); err != nil {
				x.Answer[from][at] = err.Error()
			}
		}
	}
	return x, nil
}

// WaitCrossTokens runs CrossTokens until every cell passes (with own, every token issued by its
// own site's Keystone too) or wait has passed (a Keystone just started loads its workers for a
// while), and returns the last round.
func WaitCrossTokens(ctx context.Context, c *config.Cluster, user, password string, wait, timeout time.Duration, own bool) (Cross, error) {
	deadline := time.Now().Add(wait)
	for {
		x, err := CrossTokens(ctx, c, user, password, timeout)
		if err != nil || x.Failed() == 0 && (!own || len(x.NotOwn()) == 0) || time.Now().After(deadline) {
			return x, err
		}
		select {
		case <-ctx.Done():
			return x, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
