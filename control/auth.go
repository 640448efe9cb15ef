// Package control is the operators' channel to the agents: requests to act on a site's node
// (read its position, bootstrap, start, stop, maintenance, Keystone's keys), signed with a key
// derived from the cluster key so only a holder of the key file can make an agent act.
//
// The key never travels. A request's signature covers the site it is meant for, the method, the
// URI, a timestamp, a random nonce and the SHA-256 of the body: captured on the path, it cannot be
// sent to another site, nor with another body, nor again (the agent remembers every nonce for as
// long as the timestamp is acceptable). The agent's answer is signed too, bound to the request's
// nonce, so nothing on the path can forge or swap it.
package control

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header carries a request's signature: "UNIXSECONDS:NONCE:HEX". ReplyHeader carries the
// agent's signature of its answer.
const (
	Header      = "X-Keyha-Signature"
	ReplyHeader = "X-Keyha-Reply-Signature"
)

// MaxSkew is how far a request's timestamp may be from the agent's clock.
const MaxSkew = 30 * time.Second

func bodyHash(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

func requestMAC(key []byte, site, method, uri string, ts int64, nonce string, body []byte) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "keyha request\n%s\n%s\n%s\n%d\n%s\n%s", site, method, uri, ts, nonce, bodyHash(body))
	return hex.EncodeToString(h.Sum(nil))
}

// Sign returns the signature header for a request to site, and its nonce (the reply is bound to it).
func Sign(key []byte, site, method, uri string, body []byte, now time.Time) (header, nonce string) {
	var n [16]byte
	rand.Read(n[:]) // crypto/rand.Read never fails
	nonce = hex.EncodeToString(n[:])
	ts := now.Unix()
	return strconv.FormatInt(ts, 10) + ":" + nonce + ":" + requestMAC(key, site, method, uri, ts, nonce, body), nonce
}

// Why a request or a reply was refused.
var (
	ErrNoKey     = errors.New("this agent has no key configured (gossip.key_file): control requests are refused")
	ErrUnsigned  = errors.New("request not signed")
	ErrBadSig    = errors.New("bad signature: the caller's key file differs from the agent's, or the request was altered or meant for another site")
	ErrClockSkew = errors.New("request timestamp too far from the agent's clock (check NTP)")
	ErrReplay    = errors.New("request already seen (a replay): refused")
	ErrBadReply  = errors.New("the answer is not signed by the agent with the cluster key (altered on the path, or not the agent)")
)

// Verifier checks the requests that reach one site's agent and remembers their nonces.
type Verifier struct {
	Key  []byte // the control key (Keys.Control)
	Site string // this agent's site: a request signed for another is refused

	mu   sync.Mutex
	seen map[string]time.Time // nonce -> when it may be forgotten
}

// maxNonces bounds the memory a flood of valid requests could take; far above what operators send.
const maxNonces = 100_000

// Verify checks a request's signature header against its method, URI and body. It returns the
// request's nonce, which the reply's signature covers.
func (v *Verifier) Verify(method, uri string, body []byte, header string, now time.Time) (string, error) {
	if len(v.Key) == 0 {
		return "", ErrNoKey
	}
	parts := strings.Split(header, ":")
	if len(parts) != 3 || len(parts[1]) != 32 {
		return "", ErrUnsigned
	}
	ts, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return "", ErrUnsigned
	}
	nonce, sig := parts[1], parts[2]
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return "", ErrClockSkew
	}
	if !hmac.Equal([]byte(sig), []byte(requestMAC(v.Key, v.Site, method, uri, ts, nonce, body))) {
		return "", ErrBadSig
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	if len(v.seen) >= maxNonces/2 {
		for n, until := range v.seen {
			if now.After(until) {
				delete(v.seen, n)
			}
		}
	}
	if until, ok := v.seen[nonce]; ok && !now.After(until) {
		return "", ErrReplay
	}
	if len(v.seen) >= maxNonces {
		return "", errors.New("too many control requests within the skew window: refused")
	}
	// A nonce matters while its timestamp is acceptable: until ts + MaxSkew.
	v.seen[nonce] = time.Unix(ts, 0).Add(MaxSkew + time.Second)
	return nonce, nil
}

// NonceOf is the nonce a signature header claims, unverified: a refusal is signed with it so the
// caller sees why it was refused.
func NonceOf(header string) string {
	if parts := strings.Split(header, ":"); len(parts) == 3 {
		return parts[1]
	}
	return ""
}

// SignReply returns the reply header for an answer from site to the request with nonce.
func SignReply(key []byte, site, nonce string, status int, body []byte) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "keyha reply\n%s\n%s\n%d\n%s", site, nonce, status, bodyHash(body))
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyReply checks an answer's reply header.
func VerifyReply(key []byte, site, nonce string, status int, body []byte, header string) error {
	if header == "" || !hmac.Equal([]byte(header), []byte(SignReply(key, site, nonce, status, body))) {
		return ErrBadReply
	}
	return nil
}
