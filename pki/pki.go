// Package pki is the cluster's own certificate authority: one CA, a certificate per site (its
// agent serves TLS with it and presents it as a client) and one per operator. Every TLS link
// between sites is verified against this CA and nothing else, so only a holder of a key it signed
// can answer for a site or act on an agent.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/keyha/keyha/internal/atomicfile"
)

// Files of a PKI directory.
const (
	CACert = "ca.crt"
	CAKey  = "ca.key"
)

// Lifetimes: the CA outlives many rotations of what it signs.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	CertValidity = 2 * 365 * 24 * time.Hour
)

// Init creates a CA in dir (ca.crt, ca.key 0600). It refuses to replace one: every certificate
// of the cluster hangs on it.
func Init(dir, cluster string, now time.Time) error {
	if _, err := os.Stat(filepath.Join(dir, CAKey)); err == nil {
		return fmt.Errorf("%s already holds a CA key: every certificate of the cluster depends on it; remove it yourself if you mean to start over", dir)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "keyha CA " + cluster, Organization: []string{"keyha " + cluster}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, CAKey), key); err != nil {
		return err
	}
	return writeCert(filepath.Join(dir, CACert), der)
}

// Issue signs a certificate named name (a site, or "operator-NAME") with the CA in dir, for
// server and client use, valid for the DNS names and IP addresses in hosts, and writes
// NAME.crt and NAME.key (0600) into dir.
func Issue(dir, name string, hosts []string, now time.Time) (crtPath, keyPath string, err error) {
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: ca.Subject.Organization},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(CertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	crtPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := writeKey(keyPath, key); err != nil {
		return "", "", err
	}
	return crtPath, keyPath, writeCert(crtPath, der)
}

// Expiry reads a certificate file's NotAfter.
func Expiry(path string) (time.Time, error) {
	c, err := readCert(path)
	if err != nil {
		return time.Time{}, err
	}
	return c.NotAfter, nil
}

func loadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	c, err := readCert(filepath.Join(dir, CACert))
	if err != nil {
		return nil, nil, fmt.Errorf("read the CA (keyha pki init first): %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, CAKey))
	if err != nil {
		return nil, nil, fmt.Errorf("read the CA key (keyha pki init first): %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, nil, errors.New("the CA key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("the CA key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("the CA key cannot sign")
	}
	return c, s, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), atomicfile.Options{Mode: 0o600, Max: 0o600})
}

func writeCert(path string, der []byte) error {
	return atomicfile.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), atomicfile.Options{Mode: 0o644})
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
