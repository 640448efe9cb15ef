package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/labtest"
)

func TestExampleClusterFile(t *testing.T) {
	c, err := config.Load("keyha.yaml.example")
	if err != nil {
		t.Fatalf("the packaged example does not load: %v", err)
	}
	if len(c.Sites) != 3 || !c.TLS.On() || !c.Galera.TLS() {
		t.Errorf("the example should show three sites with TLS everywhere: %d sites, tls %v, galera tls %v", len(c.Sites), c.TLS.On(), c.Galera.TLS())
	}
	d, err := config.Load("keyha-drbd.yaml.example")
	if err != nil {
		t.Fatalf("the packaged DRBD example does not load: %v", err)
	}
	data := 0
	for _, s := range d.Sites {
		if !s.Witness && s.Replication != "" {
			data++
		}
	}
	if d.Mode != "drbd" || data != 2 || len(d.Sites) != 3 || !d.TLS.On() || d.DRBD.SecretFile == "" {
		t.Errorf("the DRBD example should show two data sites replicating and a witness, with TLS and DRBD's secret: %+v", d)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// make package's .deb holds what an operator needs, with the right modes, and its unit passes
// systemd's own check.
func TestPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package (about a minute): not in -short")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		labtest.SkipOrFail(t, "dpkg-deb is missing (package dpkg)")
	}
	dir := t.TempDir()
	deb := strings.TrimSpace(run(t, "../scripts/package", dir))
	if filepath.Dir(deb) != dir || !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("scripts/package printed %q, want a .deb in %s", deb, dir)
	}
	ver := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Version"))
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(ver) {
		t.Errorf("Version %q is not a Debian version", ver)
	}
	list := run(t, "dpkg-deb", "-c", deb)
	for _, want := range []string{
		"-rwxr-xr-x root/root .* ./usr/bin/keyha\n",
		"-rw-r--r-- root/root .* ./lib/systemd/system/keyha-agent.service\n",
		"-rw-r--r-- root/root .* ./usr/share/doc/keyha/keyha.yaml.example\n",
		"-rw-r--r-- root/root .* ./usr/share/doc/keyha/keyha-drbd.yaml.example\n",
		" ./usr/share/doc/keyha/deploy.md\n",
		" ./usr/share/doc/keyha/config.md\n",
		" ./usr/share/keyha/monitoring/keyha-alerts.yml\n",
		" ./usr/share/keyha/monitoring/keyha-dashboard.json\n",
		"-rwxr-xr-x root/root .* ./usr/share/keyha/drbd/fence-peer\n",
	} {
		if !regexp.MustCompile(want).MatchString(list) {
			t.Errorf("the package lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, " ./etc/") {
		t.Errorf("the package installs under /etc, the operator's:\n%s", list)
	}

	root := filepath.Join(dir, "root")
	run(t, "dpkg-deb", "-x", deb, root)
	bin := filepath.Join(root, "usr/bin/keyha")
	if out := run(t, bin, "version"); !strings.Contains(out, "keyha") {
		t.Errorf("keyha version: %q", out)
	}
	if out := run(t, bin, "--config", filepath.Join(root, "usr/share/doc/keyha/keyha.yaml.example"), "config", "check"); !strings.Contains(out, "3 sites") {
		t.Errorf("the packaged binary does not take the packaged example: %q", out)
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/keyha-agent.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/bin/keyha agent --site ${KEYHA_SITE}\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n", "CapabilityBoundingSet=\n", "Restart=always\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the packaged unit lacks %q", want)
		}
	}
	// systemd's own check, where this host has it; the unit's binary is the extracted one (verify
	// refuses an ExecStart it cannot find), and any complaint about the unit fails.
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not here: the unit's syntax is not verified")
		return
	}
	u := filepath.Join(dir, "keyha-agent.service")
	if err := os.WriteFile(u, []byte(strings.ReplaceAll(string(unit), "/usr/bin/keyha", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", u).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "keyha-agent.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
