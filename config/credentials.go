package config

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/keyha/keyha/internal/capool"
)

// Credential is a user and password read from a my.cnf-style file, and the TLS its connections
// use (nil: in clear), which Cluster.ReadCredential sets from the cluster file's tls section.
type Credential struct {
	User     string
	Password string
	TLS      *tls.Config
}

// String never shows the password, so a Credential can be logged by mistake without harm.
func (c Credential) String() string { return c.User + ":<hidden>" }

// ReadCredential reads the [client] section of a my.cnf-style file. The file must not be readable
// by group or others: a password file anyone can read is refused, not silently used.
func ReadCredential(path string) (Credential, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Credential{}, fmt.Errorf("read credentials: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Credential{}, fmt.Errorf("credentials file %s has mode %04o: others can read it; run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return Credential{}, fmt.Errorf("read credentials: %w", err)
	}
	c, err := ParseCredential(raw)
	if err != nil {
		return Credential{}, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return c, nil
}

// ParseCredential takes user= and password= from the [client] section (or from before any section).
func ParseCredential(raw []byte) (Credential, error) {
	var c Credential
	section := "client"
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.TrimSpace(strings.Trim(line, "[]"))
			continue
		}
		if section != "client" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue // option without value, e.g. "skip-ssl"
		}
		k, v = strings.TrimSpace(k), unquote(strings.TrimSpace(v))
		switch k {
		case "user":
			c.User = v
		case "password":
			c.Password = v
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if c.User == "" {
		return c, fmt.Errorf("no user= in its [client] section")
	}
	return c, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// Credential reads the credential file the cluster file names for role (monitor, admin, app),
// saying which key and file an error is about, so a command that needs SQL says what it reads.
func (c *Cluster) Credential(role string) (Credential, error) {
	path := map[string]string{"monitor": c.Credentials.Monitor, "admin": c.Credentials.Admin, "app": c.Credentials.App}[role]
	if path == "" {
		return Credential{}, fmt.Errorf("credentials.%s is not set in the cluster file: this command reads SQL as the %s account (docs/deploy.md)", role, role)
	}
	cred, err := c.ReadCredential(path)
	if err != nil {
		return Credential{}, fmt.Errorf("credentials.%s (%s): %w", role, path, err)
	}
	return cred, nil
}

// ReadCredential reads a credential file; with a tls section its connections go over TLS,
// verified against the cluster CA.
func (c *Cluster) ReadCredential(path string) (Credential, error) {
	cred, err := ReadCredential(path)
	if err != nil || !c.TLS.On() {
		return cred, err
	}
	if cred.TLS, err = SQLTLS(c.TLS.CA); err != nil {
		return Credential{}, err
	}
	return cred, nil
}

// SQLTLS is the TLS of a connection to a node: the server's certificate must chain to the cluster
// CA. Its name is not checked, because through HAProxy (TCP passthrough) any site's node may
// answer an address: what counts is that it holds a certificate of this cluster.
func SQLTLS(caFile string) (*tls.Config, error) {
	pool, err := capool.Load(caFile)
	if err != nil {
		return nil, fmt.Errorf("tls.ca: %w", err)
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the chain is verified below, the name deliberately not
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the database server presented no certificate")
			}
			opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return fmt.Errorf("the database server's certificate is not of this cluster: %w", err)
			}
			return nil
		},
	}, nil
}
