package deploy

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The DRBD runbook, run as written: two data sites that are whole Debian hosts in VMs (Debian's
// kernel with DRBD 8.4) and a witness in the lab's namespace go from Debian's packages to a
// Primary at lngs that every site's HAProxy reaches, checked by the runbook's own step 6. With
// KEYHA_RUNBOOK_KEYSTONE=1 (make bench) Keystone's blocks run too, and each site's token, issued
// by its own Keystone, must be valid at every site; without, they are left out: a Keystone worker
// takes minutes to load on the VMs' emulated CPU.
func TestRunbookDRBD(t *testing.T) {
	withKeystone := os.Getenv("KEYHA_RUNBOOK_KEYSTONE") == "1"
	var blocks []block
	for _, b := range runbook(t, "Runbook, DRBD mode") {
		if b.part != "keystone" || withKeystone {
			blocks = append(blocks, b)
		}
	}
	k := prepare(t, "drbd", []string{"operator", "padova"}, []string{"wg", "wg-quick", "mkfs.ext4", "drbdadm"}, "DISK=/dev/vda")
	k.freshKeystone(t, "padova")
	data := []string{"lngs", "bari"}
	vms := map[string]*vmHost{}
	kernel, img := hostImage(t, k.root, k.hosts)
	for _, s := range data { // they boot side by side
		vms[s] = bootHost(t, k.root, k.hosts, kernel, img, s, sites[s]+"/24")
	}
	for _, s := range data {
		if err := vms[s].up(2 * time.Minute); err != nil {
			t.Fatalf("%v\n%s", err, vms[s].console())
		}
	}
	inVM := func(s string, b block) (string, error) {
		var script strings.Builder
		for _, kv := range k.envFor(s) {
			name, val, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&script, "export %s=%q\n", name, val)
		}
		fmt.Fprintf(&script, "cd %q\nset -euo pipefail\n%s", k.pkgDir, b.body)
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout())
		defer cancel()
		start := time.Now()
		out, err := vms[s].run(ctx, script.String())
		if err == nil {
			t.Logf("on %s: %s (%.1fs)", s, firstStep(b), time.Since(start).Seconds())
		}
		return out, err
	}
	fail := func(s string, b block, out string, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		logs := k.logs(s, func(f string) string {
			tail, _ := vms[s].run(ctx, "tail -n 20 /"+f+" 2>/dev/null || true")
			return tail
		})
		state, _ := vms[s].run(ctx, "cat /proc/drbd; dmesg | tail -n 15; wg show 2>&1 | grep -v key; haproxy -c -f /etc/haproxy/haproxy.cfg 2>&1 | tail -n 5")
		t.Fatalf("runbook block on %s failed: %v\n%s\n--- output:\n%s%s\n--- %s: DRBD, the kernel, WireGuard\n%s\n--- %s's console:\n%s", s, err, b.body, out, logs, s, state, s, vms[s].console())
	}

	t0 := time.Now()
	copied := false
	var last, primary string // the last block's output, and step 6's (the first Primary)
	for _, b := range blocks {
		hs := where(t, b, data)
		// "Copy /etc/keyha to every site": to the witness's folder, and into each VM as a tar.
		if !copied && hs[0] != "operator" && strings.Contains(b.body, "/etc/keyha/keyha.yaml") {
			run(t, "cp", "-a", filepath.Join(k.hosts, "operator/etc/keyha")+"/.", filepath.Join(k.hosts, "padova/etc/keyha"))
			var tarball bytes.Buffer
			tar := exec.Command("tar", "-C", filepath.Join(k.hosts, "operator/etc/keyha"), "-cz", ".")
			tar.Stdout = &tarball
			if err := tar.Run(); err != nil {
				t.Fatal(err)
			}
			for _, s := range data {
				cp := block{on: s, body: "# on: " + s + "\ninstall -d -m 755 /etc/keyha\nbase64 -d <<'KEYHA_TAR' | tar -C /etc/keyha -xzp\n" +
					base64.StdEncoding.EncodeToString(tarball.Bytes()) + "\nKEYHA_TAR\n"}
				if out, err := inVM(s, cp); err != nil {
					fail(s, cp, out, err)
				}
			}
			copied = true
		}
		// The VMs (one emulated CPU each) run a block side by side, then the witness.
		var vmHosts, others []string
		for _, h := range hs {
			if vms[h] != nil {
				vmHosts = append(vmHosts, h)
			} else {
				others = append(others, h)
			}
		}
		outs, errs := make([]string, len(vmHosts)), make([]error, len(vmHosts))
		var wg sync.WaitGroup
		for i, h := range vmHosts {
			wg.Add(1)
			go func() { defer wg.Done(); outs[i], errs[i] = inVM(h, b) }()
		}
		wg.Wait()
		for i, h := range vmHosts {
			if errs[i] != nil {
				fail(h, b, outs[i], errs[i])
			}
			last = outs[i]
		}
		for _, h := range others {
			last = k.inNS(t, h, b)
		}
		if strings.Contains(b.body, "keyha drbd switchover --to lngs") {
			primary = last
		}
	}
	t.Logf("the DRBD runbook (Keystone's blocks: %v): three hosts to a serving cluster in %.0fs; its last block printed:\n%s", withKeystone, time.Since(t0).Seconds(), last)
	if !copied {
		t.Error("no runbook block used the cluster file at a site")
	}
	// Step 6: keyha status with lngs serving, and the database answering as lngs through every
	// site's HAProxy.
	if !strings.Contains(primary, "serving: lngs") || len(regexp.MustCompile(`(?m)^lngs$`).FindAllString(primary, -1)) != 3 {
		t.Errorf("step 6 of the DRBD runbook:\n%s", primary)
	}
	if strings.Contains(primary, "ERROR") {
		t.Errorf("keyha drbd check-config found an error:\n%s", primary)
	}
	// keyha keystone tokens: each site's token valid at every site.
	if withKeystone && !tokensValidEverywhere.MatchString(last) {
		t.Errorf("Keystone's tokens at the end of the DRBD runbook are not valid at every site:\n%s", last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Each data site's agent ran in its unit's sandbox (no ProtectSystem, every capability: it
	// mounts and runs drbdadm), and lngs's stack holds DRBD, the filesystem and MariaDB.
	for _, s := range data {
		log, _ := vms[s].run(ctx, "cat /var/log/keyha/agent.log")
		if !strings.Contains(log, "keyha-sandbox: ProtectSystem=no ") || !strings.Contains(log, "NoNewPrivileges=yes bounding set whole") {
			t.Errorf("%s: the agent did not run in its unit's sandbox:\n%s", s, log)
		}
	}
	if out, err := vms["lngs"].run(ctx, "cat /proc/drbd; findmnt -n -o SOURCE /srv/db; cat /run/mysqld/mysqld.pid"); err != nil ||
		!strings.Contains(out, "ro:Primary/Secondary") || !strings.Contains(out, "ds:UpToDate/UpToDate") || !strings.Contains(out, "/dev/drbd0") {
		t.Errorf("lngs is not the Primary with the filesystem mounted and MariaDB running (%v):\n%s", err, out)
	}
}
