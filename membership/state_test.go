package membership

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	in := State{Site: "bari", Health: "up", NodeState: "Synced", Writer: "lngs", LastCommitted: 42,
		ClusterUUID: "8f486afc-e82f-11f1-9704-77db1bc81f34", ConfID: 7, View: []string{"lngs", "bari", "padova"},
		ConfigHash: "0123456789ab", AgentVersion: "v1.2.3-4-gabcdef0"}
	b, err := Encode(in, 512)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Site != in.Site || out.Writer != in.Writer || out.LastCommitted != 42 || len(out.View) != 3 || out.V != Version {
		t.Errorf("round trip: %+v", out)
	}
	if _, err := Encode(in, 64); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized state accepted: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, b := range []string{"", "{", `{"v":2,"s":"x"}`, `{"s":"x"}`} {
		if _, err := Decode([]byte(b)); err == nil {
			t.Errorf("Decode(%q) accepted", b)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"s":"lngs","h":"up"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := Decode(b); err == nil && s.V != Version {
			t.Fatalf("accepted version %d", s.V)
		}
	})
}

func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), mode)
		os.Chmod(p, mode)
		return p
	}
	if k, err := ReadKey(write("b64", "d3JvbmctZ29zc2lwLWtleS0wMTIzNDU2Nzg5YWJjZGU=\n", 0o600)); err != nil || len(k) != 32 {
		t.Errorf("base64 key: %d bytes, %v", len(k), err)
	}
	if k, err := ReadKey(write("raw", "0123456789abcdef", 0o600)); err != nil || len(k) != 16 {
		t.Errorf("raw key: %d bytes, %v", len(k), err)
	}
	if _, err := ReadKey(write("short", "abc", 0o600)); err == nil || !strings.Contains(err.Error(), "16, 24 or 32") {
		t.Errorf("short key: %v", err)
	}
	if _, err := ReadKey(write("open", "0123456789abcdef", 0o644)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	if _, err := ReadKey(filepath.Join(dir, "none")); err == nil {
		t.Errorf("missing key file accepted")
	}
}
