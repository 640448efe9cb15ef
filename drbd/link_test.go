package drbd

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const show84 = `resource r0 {
    options {
    }
    net {
        cram-hmac-alg       "sha256";
        shared-secret       "s3cret";
        after-sb-0pri       disconnect;
    }
    _remote_host {
        address			ipv4 10.78.0.2:7789;
    }
    _this_host {
        address			ipv4 10.78.0.1:7789;
        volume 0 {
            device			minor 0;
            disk {
                fencing         	resource-and-stonith;
            }
        }
    }
}
`

func TestReadLink(t *testing.T) {
	for _, c := range []struct {
		name, show, route, link string
		want                    []string
	}{
		{"WireGuard and cram-hmac", show84, "10.78.0.2 dev wg0 src 10.78.0.1 uid 0", "4: wg0: <POINTOPOINT,NOARP,UP> mtu 1420\n    link/none  promiscuity 0\n    wireguard addrgenmode none", nil},
		{"the bare link", strings.Replace(show84, "10.78.0.2", "10.77.0.2", 1), "10.77.0.2 dev eth0 src 10.77.0.1", "2: eth0: <BROADCAST> mtu 1500\n    link/ether 52:54:00:00:00:01", []string{"crosses in clear (routed through eth0"}},
		{"no authentication", strings.Replace(show84, `cram-hmac-alg       "sha256";`, "", 1), "10.78.0.2 dev wg0", "wireguard", []string{"do not authenticate"}},
		{"unreadable", "", "", "", []string{"cannot tell"}},
		// StandAlone, just dropped: no net section, no peer; the disk's policy still holds.
		{"dropped link, fencing still read", `resource r0 {
    _this_host {
        volume 0 {
            disk {
                fencing         	resource-and-stonith;
            }
        }
    }
}`, "", "", []string{"cannot tell"}},
		{"no fencing that freezes I/O", strings.Replace(show84, "resource-and-stonith", "resource-only", 1), "10.78.0.2 dev wg0", "wireguard", []string{`fencing policy is "resource-only"`}},
	} {
		run := func(_ context.Context, name string, args ...string) ([]byte, error) {
			switch {
			case c.show == "":
				return nil, errors.New("exit status 10")
			case name == "drbdsetup":
				return []byte(c.show), nil
			case args[0] == "route":
				return []byte(c.route), nil
			default:
				return []byte(c.link), nil
			}
		}
		l := ReadLink(context.Background(), run, "r0")
		if want := c.show != "" && !strings.Contains(c.name, "no fencing"); l.Freezes() != want {
			t.Errorf("%s: fencing %q: Freezes() = %v, want %v", c.name, l.Fencing, l.Freezes(), want)
		}
		got := JudgeLink(l)
		if len(got) != len(c.want) {
			t.Errorf("%s: %+v gives %q, want %q", c.name, l, got, c.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], c.want[i]) {
				t.Errorf("%s: %q, want %q", c.name, got[i], c.want[i])
			}
		}
		if strings.Contains(strings.Join(got, " ")+l.Auth+l.Peer+l.Err, "s3cret") {
			t.Errorf("%s: the shared secret leaked", c.name)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"Command 'drbdsetup-84 connect r0 ipv4:10.78.0.1:7789 ipv4:10.78.0.2:7789 --protocol=C --shared-secret=M9EunzXLS --after-sb-0pri=disconnect' terminated with exit code 10": "Command 'drbdsetup-84 connect r0 ipv4:10.78.0.1:7789 ipv4:10.78.0.2:7789 --protocol=C --shared-secret=(hidden) --after-sb-0pri=disconnect' terminated with exit code 10",
		"    shared-secret       \"M9Eun zXLS\";": "    shared-secret       (hidden);",
		"no secret here": "no secret here",
	} {
		if got := Redact([]byte(in)); got != want || strings.Contains(got, "M9Eun") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExecRedacts: a failing tool's stderr, which drbdadm fills with the failed drbdsetup line,
// reaches the error without the secret.
func TestExecRedacts(t *testing.T) {
	_, err := Exec(context.Background(), "sh", "-c", "s=s3; echo \"Command 'drbdsetup-84 connect r0 --shared-secret=${s}cr3t' terminated with exit code 10\" >&2; exit 10")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "--shared-secret=(hidden)") {
		t.Fatalf("Exec's error: %v", err)
	}
}
