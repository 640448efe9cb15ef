// Package control is the operators' channel to the agents: requests to act on a site's node
// (read its position, bootstrap, start, stop, maintenance), signed with the cluster key so only
// a holder of the key file can make an agent act. The key never travels: each request carries
// a timestamp and an HMAC-SHA256 of method, path and timestamp.
package control

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header carries the signature: "UNIXSECONDS:HEX".
const Header = "X-Keyha-Signature"

// MaxSkew is how far a request's timestamp may be from the agent's clock.
const MaxSkew = 30 * time.Second

func mac(key []byte, method, uri string, ts int64) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "%s %s %d", method, uri, ts)
	return hex.EncodeToString(h.Sum(nil))
}

// Sign returns the header value for a request.
func Sign(key []byte, method, uri string, now time.Time) string {
	ts := now.Unix()
	return strconv.FormatInt(ts, 10) + ":" + mac(key, method, uri, ts)
}

// ErrUnsigned and friends say why a request was refused.
var (
	ErrNoKey     = errors.New("this agent has no key configured (gossip.key_file): control requests are refused")
	ErrUnsigned  = errors.New("request not signed")
	ErrBadSig    = errors.New("bad signature: the caller's key file differs from the agent's")
	ErrClockSkew = errors.New("request timestamp too far from the agent's clock (check NTP)")
)

// Verify checks a request's signature header.
func Verify(key []byte, method, uri, header string, now time.Time) error {
	if len(key) == 0 {
		return ErrNoKey
	}
	tsText, sig, ok := strings.Cut(header, ":")
	if header == "" || !ok {
		return ErrUnsigned
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrUnsigned
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrClockSkew
	}
	if !hmac.Equal([]byte(sig), []byte(mac(key, method, uri, ts))) {
		return ErrBadSig
	}
	return nil
}
