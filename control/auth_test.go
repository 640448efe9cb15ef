package control

import (
	"errors"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	key, other := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	now := time.Unix(1800000000, 0)
	sig := Sign(key, "POST", "/galera/start", now)
	for _, c := range []struct {
		name        string
		key         []byte
		method, uri string
		header      string
		at          time.Time
		want        error
	}{
		{"good", key, "POST", "/galera/start", sig, now, nil},
		{"within skew", key, "POST", "/galera/start", sig, now.Add(20 * time.Second), nil},
		{"replayed later", key, "POST", "/galera/start", sig, now.Add(time.Minute), ErrClockSkew},
		{"other path", key, "POST", "/galera/stop", sig, now, ErrBadSig},
		{"other method", key, "GET", "/galera/start", sig, now, ErrBadSig},
		{"other key", other, "POST", "/galera/start", sig, now, ErrBadSig},
		{"no header", key, "POST", "/galera/start", "", now, ErrUnsigned},
		{"garbage", key, "POST", "/galera/start", "abc:def", now, ErrUnsigned},
		{"no key at the agent", nil, "POST", "/galera/start", sig, now, ErrNoKey},
	} {
		if err := Verify(c.key, c.method, c.uri, c.header, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
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
