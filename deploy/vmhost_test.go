package deploy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmHost is a whole Debian host for the DRBD runbook: a qemu VM with Debian's kernel (DRBD 8.4,
// WireGuard, nftables), this machine's root read-only under a writable layer of its own
// (scripts/vm/init-host), a blank virtio disk (/dev/vda), and a tap on the lab's bridge. The test
// sends it shell blocks on a virtio-serial port, not the network, which its firewall closes.
type vmHost struct {
	site string
	dir  string
	qemu *exec.Cmd
	conn net.Conn
	rd   *bufio.Reader
}

// hostImage builds what the host VMs boot: Debian's kernel (its folder) and the host initramfs.
func hostImage(t *testing.T, root, dir string) (kernel, img string) {
	t.Helper()
	k, err := exec.Command(filepath.Join(root, "scripts/vm/image"), "kernel").Output()
	if err != nil {
		t.Fatalf("scripts/vm/image kernel: %v", err)
	}
	img = filepath.Join(dir, "host.img")
	run(t, filepath.Join(root, "scripts/vm/image"), "initramfs", "host", img)
	return strings.TrimSpace(string(k)), img
}

// bootHost starts site's VM at addr (CIDR) from hostImage's kernel and img (up waits for it).
func bootHost(t *testing.T, root, dir, kernel, img, site, addr string) *vmHost {
	t.Helper()
	v := &vmHost{site: site, dir: filepath.Join(dir, site)}
	if err := os.MkdirAll(v.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(v.dir, "disk.img")
	if err := os.WriteFile(disk, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 256<<20); err != nil {
		t.Fatal(err)
	}
	tap := "kh-v" + site
	exec.Command("ip", "link", "del", tap).Run()
	run(t, "ip", "tuntap", "add", tap, "mode", "tap")
	run(t, "ip", "link", "set", tap, "master", "kh-br0", "up")
	sock := filepath.Join(v.dir, "cmd.sock")
	v.qemu = exec.Command("qemu-system-x86_64", "-m", "1024", "-smp", "1", "-display", "none", "-no-reboot", "-monitor", "none",
		"-kernel", filepath.Join(kernel, "vmlinuz"), "-initrd", img,
		"-append", fmt.Sprintf("console=ttyS0 quiet panic=-1 keyha.site=%s keyha.ip=%s keyha.stage2=%s", site, addr, filepath.Join(root, "scripts/vm/host-stage2")),
		"-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=root",
		"-virtfs", "local,path="+filepath.Join(kernel, "lib/modules")+",mount_tag=modules,security_model=none,readonly=on,id=modules",
		"-device", "virtio-serial-pci", "-chardev", "socket,id=cmd,path="+sock+",server=on,wait=off",
		"-device", "virtserialport,chardev=cmd,name=keyha.cmd",
		"-drive", "file="+disk+",format=raw,if=virtio,cache=none",
		"-netdev", "tap,id=n0,ifname="+tap+",script=no,downscript=no", "-device", "e1000,netdev=n0,mac="+mac(addr),
		"-serial", "file:"+filepath.Join(v.dir, "console.log"))
	if err := v.qemu.Start(); err != nil {
		t.Fatalf("start %s's VM: %v", site, err)
	}
	t.Cleanup(v.stop)
	return v
}

// up waits until the VM runs blocks: its command port open, and its init answering on it.
func (v *vmHost) up(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("unix", filepath.Join(v.dir, "cmd.sock"))
		if err == nil {
			v.conn, v.rd = c, bufio.NewReader(c)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s's VM: no command port in %v: %w", v.site, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Its init reads the port once it is up; a block sent before waits in the port.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if out, err := v.run(ctx, "hostname"); err != nil || strings.TrimSpace(out) != v.site {
		return fmt.Errorf("%s's VM did not come up (hostname %q, %v)", v.site, out, err)
	}
	return nil
}

// run sends script to the VM's shell and returns what it printed; an error when it exits non-zero.
func (v *vmHost) run(ctx context.Context, script string) (string, error) {
	b := make([]byte, 8)
	rand.Read(b)
	nonce := hex.EncodeToString(b)
	d, _ := ctx.Deadline() // none: the zero time, no deadline
	v.conn.SetDeadline(d)
	if _, err := fmt.Fprintf(v.conn, "%s\nkeyha-end %s\n", strings.TrimRight(script, "\n"), nonce); err != nil {
		return "", fmt.Errorf("send to %s's VM: %w", v.site, err)
	}
	var out strings.Builder
	for {
		line, err := v.rd.ReadString('\n')
		if err != nil {
			return out.String(), fmt.Errorf("read from %s's VM: %w", v.site, err)
		}
		if rest, ok := strings.CutPrefix(line, "keyha-rc "+nonce+" "); ok {
			rc, _ := strconv.Atoi(strings.TrimSpace(rest))
			if rc != 0 {
				return out.String(), fmt.Errorf("exit status %d", rc)
			}
			return out.String(), nil
		}
		out.WriteString(line)
	}
}

// mac is a VM's MAC address, from its IPv4 address: qemu gives every VM the same one otherwise,
// and two on one bridge would not reach each other.
func mac(addr string) string {
	ip := net.ParseIP(strings.Split(addr, "/")[0]).To4()
	return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", ip[0], ip[1], ip[2], ip[3])
}

func (v *vmHost) console() string {
	b, _ := os.ReadFile(filepath.Join(v.dir, "console.log"))
	return string(b)
}

func (v *vmHost) stop() {
	if v.conn != nil {
		v.conn.Close()
	}
	if v.qemu != nil && v.qemu.Process != nil {
		v.qemu.Process.Kill()
		v.qemu.Wait()
	}
	exec.Command("ip", "link", "del", "kh-v"+v.site).Run()
}
