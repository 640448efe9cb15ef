package control

import (
	"errors"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	key, other := Derive([]byte("0123456789abcdef0123456789abcdef")).Control, Derive([]byte("fedcba9876543210fedcba9876543210")).Control
	now := time.Unix(1800000000, 0)
	body := []byte(`"sealed keys, generation 5"`)
	sig, _ := Sign(key, "bari", "POST", "/keystone/keys", body, now)
	for _, c := range []struct {
		name        string
		key         []byte
		site        string
		method, uri string
		body        []byte
		header      string
		at          time.Time
		want        error
	}{
		{"good", key, "bari", "POST", "/keystone/keys", body, sig, now, nil},
		{"within skew", key, "bari", "POST", "/keystone/keys", body, sig, now.Add(20 * time.Second), nil},
		{"replayed later", key, "bari", "POST", "/keystone/keys", body, sig, now.Add(time.Minute), ErrClockSkew},
		{"sent to another site", key, "lngs", "POST", "/keystone/keys", body, sig, now, ErrBadSig},
		{"other body", key, "bari", "POST", "/keystone/keys", []byte(`"sealed keys, generation 3"`), sig, now, ErrBadSig},
		{"no body", key, "bari", "POST", "/keystone/keys", nil, sig, now, ErrBadSig},
		{"other path", key, "bari", "POST", "/galera/stop", body, sig, now, ErrBadSig},
		{"other method", key, "bari", "GET", "/keystone/keys", body, sig, now, ErrBadSig},
		{"other key", other, "bari", "POST", "/keystone/keys", body, sig, now, ErrBadSig},
		{"no header", key, "bari", "POST", "/keystone/keys", body, "", now, ErrUnsigned},
		{"garbage", key, "bari", "POST", "/keystone/keys", body, "abc:def", now, ErrUnsigned},
		{"no key at the agent", nil, "bari", "POST", "/keystone/keys", body, sig, now, ErrNoKey},
	} {
		v := &Verifier{Key: c.key, Site: c.site}
		if _, err := v.Verify(c.method, c.uri, c.body, c.header, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestVerifyRefusesReplay(t *testing.T) {
	key := Derive([]byte("0123456789abcdef0123456789abcdef")).Control
	v := &Verifier{Key: key, Site: "bari"}
	now := time.Unix(1800000000, 0)
	sig, nonce := Sign(key, "bari", "POST", "/galera/bootstrap?method=pc.bootstrap", nil, now)
	got, err := v.Verify("POST", "/galera/bootstrap?method=pc.bootstrap", nil, sig, now)
	if err != nil || got != nonce {
		t.Fatalf("first: nonce %q, %v; want %q, nil", got, err, nonce)
	}
	for _, at := range []time.Duration{0, time.Second, MaxSkew} {
		if _, err := v.Verify("POST", "/galera/bootstrap?method=pc.bootstrap", nil, sig, now.Add(at)); !errors.Is(err, ErrReplay) {
			t.Errorf("replayed %s later: %v, want %v", at, err, ErrReplay)
		}
	}
	// A new request (new nonce) for the same action is fine.
	sig2, _ := Sign(key, "bari", "POST", "/galera/bootstrap?method=pc.bootstrap", nil, now.Add(time.Second))
	if _, err := v.Verify("POST", "/galera/bootstrap?method=pc.bootstrap", nil, sig2, now.Add(time.Second)); err != nil {
		t.Errorf("a fresh request: %v", err)
	}
}

func TestReply(t *testing.T) {
	keys := Derive([]byte("0123456789abcdef0123456789abcdef"))
	body := []byte(`{"result":4}`)
	h := SignReply(keys.Reply, "lngs", "n1", 200, body)
	if err := VerifyReply(keys.Reply, "lngs", "n1", 200, body, h); err != nil {
		t.Fatalf("good reply: %v", err)
	}
	for _, c := range []struct {
		name, site, nonce string
		status            int
		body              string
		header            string
		key               []byte
	}{
		{"other site", "bari", "n1", 200, `{"result":4}`, h, keys.Reply},
		{"other request", "lngs", "n2", 200, `{"result":4}`, h, keys.Reply},
		{"other status", "lngs", "n1", 500, `{"result":4}`, h, keys.Reply},
		{"other body", "lngs", "n1", 200, `{"result":1}`, h, keys.Reply},
		{"unsigned", "lngs", "n1", 200, `{"result":4}`, "", keys.Reply},
		{"signed with the request key", "lngs", "n1", 200, `{"result":4}`, SignReply(keys.Control, "lngs", "n1", 200, body), keys.Reply},
	} {
		if err := VerifyReply(c.key, c.site, c.nonce, c.status, []byte(c.body), c.header); !errors.Is(err, ErrBadReply) {
			t.Errorf("%s: %v, want %v", c.name, err, ErrBadReply)
		}
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	k := Derive(raw)
	seen := map[string]string{string(raw): "the key file"}
	for name, b := range map[string][]byte{"gossip": k.Gossip, "control": k.Control, "reply": k.Reply, "seal": k.Seal} {
		if len(b) != 32 {
			t.Errorf("%s key is %d bytes, want 32", name, len(b))
		}
		if o, ok := seen[string(b)]; ok {
			t.Errorf("%s key equals %s", name, o)
		}
		seen[string(b)] = name
	}
	if d := Derive(raw); string(d.Control) != string(k.Control) {
		t.Error("derivation is not deterministic: sites would disagree")
	}
}

func TestSeal(t *testing.T) {
	key, other := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	s, err := Seal(key, []byte("fernet key 0"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Unseal(key, s); err != nil || string(p) != "fernet key 0" {
		t.Errorf("round trip: %q %v", p, err)
	}
	if _, err := Unseal(other, s); err == nil {
		t.Error("opened with another key")
	}
	s[len(s)-1] ^= 1
	if _, err := Unseal(key, s); err == nil {
		t.Error("opened altered material")
	}
}
