package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Runtime talks to HAProxy's runtime API over its stats socket (level admin).
type Runtime struct {
	Socket  string
	Timeout time.Duration
}

// Exec sends one command and returns HAProxy's whole answer.
func (r Runtime) Exec(ctx context.Context, cmd string) (string, error) {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "unix", r.Socket)
	if err != nil {
		return "", fmt.Errorf("connect to HAProxy runtime API %s: %w", r.Socket, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", fmt.Errorf("send %q to %s: %w", cmd, r.Socket, err)
	}
	out, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		return "", fmt.Errorf("read answer to %q from %s: %w", cmd, r.Socket, err)
	}
	return string(out), nil
}

// ServersState returns every server HAProxy runs, with the address it has now (an operator's
// "set server ... addr" included): "show servers state".
func (r Runtime) ServersState(ctx context.Context) ([]Server, error) {
	out, err := r.Exec(ctx, "show servers state")
	if err != nil {
		return nil, err
	}
	return ParseServersState(out)
}

// ParseServersState parses "show servers state" (format 1): fields found by the header's names.
func ParseServersState(out string) ([]Server, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "1" || !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("show servers state: not format 1 with a header: %.80q", out)
	}
	col := map[string]int{}
	for i, f := range strings.Fields(strings.TrimPrefix(lines[1], "# ")) {
		col[f] = i
	}
	for _, f := range []string{"be_name", "srv_name", "srv_addr", "srv_port"} {
		if _, ok := col[f]; !ok {
			return nil, fmt.Errorf("show servers state: no %s column", f)
		}
	}
	var srv []Server
	for _, ln := range lines[2:] {
		f := strings.Fields(ln)
		if len(f) == 0 {
			continue
		}
		if len(f) < len(col) {
			return nil, fmt.Errorf("show servers state: short line %q", ln)
		}
		srv = append(srv, Server{Backend: f[col["be_name"]], Name: f[col["srv_name"]], Addr: net.JoinHostPort(f[col["srv_addr"]], f[col["srv_port"]])})
	}
	return srv, nil
}

// ServerStat is one server's row of "show stat".
type ServerStat struct {
	Backend, Server string
	Status          string // UP, DOWN, DRAIN, MAINT, NOLB, "UP 1/2" ... without " (agent)"
	ByAgent         bool   // HAProxy says the agent set this status
	Weight          int
	CheckStatus     string // L7OK, L4CON, L7STS ...
	CheckDesc       string
	AgentStatus     string
	AgentDesc       string // the agent's #reason
	LastCheck       string
	LastAgent       string
	ActiveSessions  int
	// Since HAProxy's start: sessions the server took, bytes to and from it, times it went down.
	TotalSessions, BytesIn, BytesOut, Downs int
}

// ShowStat returns the server rows of one backend.
func (r Runtime) ShowStat(ctx context.Context, backend string) ([]ServerStat, error) {
	out, err := r.Exec(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	rows, err := ParseStat(out)
	if err != nil {
		return nil, fmt.Errorf("show stat from %s: %w", r.Socket, err)
	}
	var mine []ServerStat
	for _, s := range rows {
		if s.Backend == backend {
			mine = append(mine, s)
		}
	}
	return mine, nil
}

// SetServerState sets a server's administrative state: ready, drain or maint.
func (r Runtime) SetServerState(ctx context.Context, backend, server, state string) error {
	switch state {
	case "ready", "drain", "maint":
	default:
		return fmt.Errorf("set server state %q: use ready, drain or maint", state)
	}
	return r.expectEmpty(ctx, fmt.Sprintf("set server %s/%s state %s", backend, server, state))
}

// MarkDown forces a server's health down now ("set server ... health down"): HAProxy closes its
// sessions (on-marked-down) and sends it nothing more, until a check of it passes again. Unlike
// the maint state it sticks to nothing: the checks still decide.
func (r Runtime) MarkDown(ctx context.Context, backend, server string) error {
	return r.expectEmpty(ctx, fmt.Sprintf("set server %s/%s health down", backend, server))
}

// ShutdownSessions closes every session to a server.
func (r Runtime) ShutdownSessions(ctx context.Context, backend, server string) error {
	return r.expectEmpty(ctx, fmt.Sprintf("shutdown sessions server %s/%s", backend, server))
}

func (r Runtime) expectEmpty(ctx context.Context, cmd string) error {
	out, err := r.Exec(ctx, cmd)
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(out); s != "" {
		return fmt.Errorf("HAProxy refused %q: %s", cmd, s)
	}
	return nil
}

// ParseStat parses "show stat" CSV. Columns are found by the header's names, not positions, so
// versions that add columns still parse; rows other than servers (FRONTEND, BACKEND) are skipped.
func ParseStat(out string) ([]ServerStat, error) {
	out = strings.TrimLeft(out, "# ")
	if out == "" {
		return nil, errors.New("empty answer")
	}
	rd := csv.NewReader(bytes.NewBufferString(out))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse CSV: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("no header")
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, need := range []string{"pxname", "svname", "status"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("header has no %q column", need)
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return rec[i]
	}
	atoi := func(s string) int {
		n := 0
		fmt.Sscanf(s, "%d", &n)
		return n
	}
	var rows []ServerStat
	for _, rec := range recs[1:] {
		sv := get(rec, "svname")
		if sv == "" || sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		status, byAgent := strings.CutSuffix(get(rec, "status"), " (agent)")
		rows = append(rows, ServerStat{
			Backend: get(rec, "pxname"), Server: sv, Status: status, ByAgent: byAgent,
			Weight: atoi(get(rec, "weight")), CheckStatus: get(rec, "check_status"), CheckDesc: get(rec, "check_desc"),
			AgentStatus: get(rec, "agent_status"), AgentDesc: get(rec, "agent_desc"),
			LastCheck: get(rec, "last_chk"), LastAgent: get(rec, "last_agt"), ActiveSessions: atoi(get(rec, "scur")),
			TotalSessions: atoi(get(rec, "stot")), BytesIn: atoi(get(rec, "bin")), BytesOut: atoi(get(rec, "bout")), Downs: atoi(get(rec, "chkdown")),
		})
	}
	return rows, nil
}
