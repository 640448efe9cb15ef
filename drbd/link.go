package drbd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Link is how a resource's replication link is protected, as this data site runs it.
type Link struct {
	Auth      string `json:"auth"`          // cram-hmac-alg: the peers prove they hold the shared secret; "" none
	Peer      string `json:"peer"`          // the peer's replication address
	Dev       string `json:"dev"`           // the interface the kernel routes it through
	WireGuard bool   `json:"wireguard"`     // that interface is a WireGuard tunnel: the blocks are encrypted
	Fencing   string `json:"fencing"`       // the disk's fencing policy; keyha needs resource-and-stonith
	Err       string `json:"err,omitempty"` // what could not be read
}

// ParseShow reads the cram-hmac-alg, the peer's address and the fencing policy from `drbdsetup
// show RES` (DRBD 8.4). The shared secret in that output is never kept.
func ParseShow(out []byte) (auth, peer, fencing string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	remote := false
	for sc.Scan() {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(sc.Text()), ";"))
		switch {
		case len(f) == 0:
		case f[0] == "_remote_host":
			remote = true
		case f[0] == "_this_host":
			remote = false
		case f[0] == "cram-hmac-alg" && len(f) > 1:
			auth = strings.Trim(f[1], `"`)
		case f[0] == "address" && remote && len(f) > 1:
			peer = f[len(f)-1]
		case f[0] == "fencing" && len(f) > 1:
			fencing = f[1]
		}
	}
	return auth, peer, fencing
}

// Freezes says whether the link's policy freezes a Primary's I/O when it loses its peer, until
// a majority holds its fence: the Secondary may then promote on the fence (Decide). It rests on
// the fencing policy drbdsetup showed, whatever else could not be read: a link just dropped shows
// no peer address, and its policy still holds.
func (l Link) Freezes() bool { return l.Fencing == "resource-and-stonith" }

// ReadLink finds how resource's link is protected: DRBD's own authentication, and whether the
// kernel routes the peer's address through a WireGuard interface.
func ReadLink(ctx context.Context, run Runner, resource string) Link {
	out, err := run(ctx, "drbdsetup", "show", resource)
	if err != nil {
		return Link{Err: fmt.Sprintf("drbdsetup show %s: %v", resource, err)}
	}
	var l Link
	l.Auth, l.Peer, l.Fencing = ParseShow(out)
	if l.Peer == "" {
		l.Err = "drbdsetup show " + resource + " names no peer address"
		return l
	}
	host := l.Peer
	if i := strings.LastIndex(host, ":"); i > 0 {
		host = host[:i]
	}
	if out, err = run(ctx, "ip", "route", "get", host); err != nil {
		l.Err = fmt.Sprintf("ip route get %s: %v", host, err)
		return l
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			l.Dev = f[i+1]
			break
		}
	}
	if l.Dev == "" {
		l.Err = "ip route get " + host + " names no interface"
		return l
	}
	if out, err = run(ctx, "ip", "-d", "link", "show", "dev", l.Dev); err != nil {
		l.Err = fmt.Sprintf("ip -d link show dev %s: %v", l.Dev, err)
		return l
	}
	l.WireGuard = strings.Contains(string(out), "wireguard")
	return l
}

// JudgeLink says what is wrong with a data site's replication link over a WAN.
func JudgeLink(l Link) []string {
	if l.Err != "" {
		return []string{"cannot tell how the replication link is protected: " + l.Err}
	}
	var out []string
	if !l.WireGuard {
		out = append(out, fmt.Sprintf("DRBD replication to %s crosses in clear (routed through %s, not a WireGuard tunnel): DRBD 8.4 does not encrypt; carry it over WireGuard (docs/drbd.md)", l.Peer, l.Dev))
	}
	if l.Fencing != "resource-and-stonith" {
		out = append(out, fmt.Sprintf("DRBD's fencing policy is %q, not resource-and-stonith: a Primary that loses its peer keeps writing instead of freezing its I/O until a majority holds its fence; keyha then promotes the other side only on the clock (promote_after), and a write may be lost (docs/drbd.md)", orNone(l.Fencing)))
	}
	if l.Auth == "" {
		out = append(out, "DRBD's peers do not authenticate each other: set cram-hmac-alg and shared-secret in the resource's net section (docs/drbd.md)")
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "dont-care (the default)"
	}
	return s
}

// secretArg is DRBD's shared secret as drbdadm shows it in a failed command's line
// (--shared-secret=X) or drbdsetup show prints it (shared-secret "X";).
var secretArg = regexp.MustCompile(`(shared-secret[= ]+)("[^"]*"|[^\s;'"]+)`)

// Redact hides the shared secret in what drbdadm or drbdsetup printed, before it is logged or
// shown: drbdadm repeats the whole drbdsetup command line of a step that failed.
func Redact(out []byte) string {
	return secretArg.ReplaceAllString(string(out), "${1}(hidden)")
}
