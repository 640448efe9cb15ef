package pki

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// handshake runs one TLS handshake between a server and a client config and returns what each saw.
func handshake(t *testing.T, srv, cli *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan tls.ConnectionState, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- tls.ConnectionState{}
			return
		}
		tc := c.(*tls.Conn)
		tc.Handshake()
		got <- tc.ConnectionState()
		c.Close()
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), cli)
	if err != nil {
		<-got
		return tls.ConnectionState{}, err
	}
	c.Close()
	return <-got, nil
}

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := Init(dir, "lab", now); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir, "lab", now); err == nil || !strings.Contains(err.Error(), "already holds a CA key") {
		t.Errorf("a second init: %v", err)
	}
	crt, key, err := Issue(dir, "lngs", []string{"lngs", "10.77.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(dir, CAKey)); fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %o, want 0600", fi.Mode().Perm())
	}
	opCrt, opKey, err := Issue(dir, "operator-ops", []string{"operator-ops"}, now)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ServerConfig(filepath.Join(dir, CACert), crt, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, CACert)

	cli, _ := ClientConfig(ca, opCrt, opKey, "lngs")
	st, err := handshake(t, srv, cli)
	if err != nil || len(st.VerifiedChains) == 0 {
		t.Fatalf("operator to lngs: %v, verified client chains %d", err, len(st.VerifiedChains))
	}
	// Without a client certificate: allowed (HAProxy's check), but nothing verified.
	anon, _ := ClientConfig(ca, "", "", "lngs")
	if st, err := handshake(t, srv, anon); err != nil || len(st.VerifiedChains) != 0 {
		t.Errorf("anonymous client: %v, verified chains %d", err, len(st.VerifiedChains))
	}
	// lngs's certificate does not answer for bari.
	asBari, _ := ClientConfig(ca, opCrt, opKey, "bari")
	if _, err := handshake(t, srv, asBari); err == nil {
		t.Error("lngs's certificate was accepted for bari")
	}
	// Another CA's certificate is not of this cluster, either way.
	other := t.TempDir()
	Init(other, "other", now)
	oCrt, oKey, _ := Issue(other, "lngs", []string{"lngs"}, now)
	impostor, _ := ServerConfig(filepath.Join(other, CACert), oCrt, oKey)
	if _, err := handshake(t, impostor, cli); err == nil {
		t.Error("a server with another CA's certificate was accepted")
	}

	// A renewed certificate is served at the next handshake, without a new config.
	before, _ := Expiry(crt)
	if _, _, err := Issue(dir, "lngs", []string{"lngs"}, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	after, _ := Expiry(crt)
	cli2, _ := ClientConfig(ca, opCrt, opKey, "lngs")
	var served time.Time
	cli2.VerifyConnection = func(cs tls.ConnectionState) error { served = cs.PeerCertificates[0].NotAfter; return nil }
	if _, err := handshake(t, srv, cli2); err != nil || !served.Equal(after) || served.Equal(before) {
		t.Errorf("after renewal the server presented a certificate expiring %v (old %v, new %v): %v", served, before, after, err)
	}
}
