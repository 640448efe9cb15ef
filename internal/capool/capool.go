// Package capool reads the cluster CA, for the agents' TLS (pki) and the SQL connections
// (config) alike.
package capool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load reads the PEM certificates in caFile into a pool; a file without one is an error.
func Load(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read the cluster CA: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return p, nil
}
