package control

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// Keys are the cluster key's per-purpose keys, derived with HKDF-SHA256: a key used for one job
// (gossip encryption, request signing, reply signing, sealing Keystone's keys) is never used for
// another, and none is the key file's content itself.
type Keys struct {
	Gossip  []byte // memberlist's AES key
	Control []byte // HMAC of control requests
	Reply   []byte // HMAC of the agents' answers
	Seal    []byte // AES-GCM of Keystone's key material
}

// Purpose labels: changing one changes that key at every site at once.
const (
	purposeGossip  = "keyha gossip v1"
	purposeControl = "keyha control request v1"
	purposeReply   = "keyha control reply v1"
	purposeSeal    = "keyha keystone seal v1"
)

// Derive returns the per-purpose keys of a cluster key (the gossip key file's content).
func Derive(cluster []byte) Keys {
	d := func(purpose string) []byte {
		if len(cluster) == 0 {
			return nil
		}
		k, err := hkdf.Key(sha256.New, cluster, nil, purpose, 32)
		if err != nil {
			panic(err) // only for a length HKDF-SHA256 cannot give; 32 it always can
		}
		return k
	}
	return Keys{Gossip: d(purposeGossip), Control: d(purposeControl), Reply: d(purposeReply), Seal: d(purposeSeal)}
}
