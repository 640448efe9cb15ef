package load_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/load"
)

// TestConfirmWaitsForDurability is the case TestDRBDFailover once met: a Primary cut off with a
// commit in flight freezes its I/O; the commit is already visible there, so a retry meets 1062,
// yet it is not durable and is lost with the Primary. Here a real MariaDB writes to a
// filesystem the test freezes: the first attempt times out with its commit stuck, the retry
// meets 1062, and confirm must refuse until the commit is durable.
func TestConfirmWaitsForDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	db, mnt, _ := freezableDB(t)
	ctx := context.Background()
	if err := load.PrepareSchema(ctx, db, load.Header{Run: "durable", Rows: 3, Created: time.Now()}, 1, true, 0, time.Second); err != nil {
		t.Fatal(err)
	}
	freeze(t, mnt, true)
	p := load.Payload(1, 1)
	first := make(chan error, 1)
	go func() { _, err := db.Exec(load.InsertSQL(1), 1, "lngs", p, load.CRC(p)); first <- err }()
	visible := func() bool {
		var n int
		return db.QueryRow("SELECT COUNT(*) FROM "+load.Schema+".item WHERE id = 1").Scan(&n) == nil && n == 1
	}
	for deadline := time.Now().Add(20 * time.Second); !visible(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt's row never became visible while its commit waits on the frozen disk")
		}
	}
	if err := <-first; load.Classify(err) != load.ClassConnection {
		t.Fatalf("first attempt on a frozen disk: %v (class %s), want a timeout of unknown outcome", err, load.Classify(err))
	}
	_, err := db.Exec(load.InsertSQL(1), 1, "lngs", p, load.CRC(p))
	if load.Classify(err) != load.ClassDuplicate {
		t.Fatalf("the retry: %v, want 1062 (the row is visible though not durable)", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = load.Confirm(cctx, db, 1, 1, "ack 1.1")
	cancel()
	if err == nil {
		t.Fatal("confirm proved a row whose commit is not durable (the disk is frozen)")
	}
	if load.Classify(err) == load.ClassDuplicate {
		t.Fatalf("confirm's failure reads as a duplicate, which write takes for proof: %v", err)
	}
	t.Logf("frozen: confirm refused: %v", err)
	freeze(t, mnt, false)
	cctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := load.Confirm(cctx, db, 1, 1, "ack 1.2"); err != nil {
		t.Fatalf("thawed: the commit is durable now, yet confirm failed: %v", err)
	}
	if err := load.Confirm(cctx, db, 2, 3, "ack 2.0"); err == nil || !strings.Contains(err.Error(), "0 of them present") {
		t.Fatalf("confirm of rows never written: %v, want 0 of them present", err)
	}
}

// freezableDB starts a MariaDB (socket only) whose datadir is a loop-mounted ext4 that freeze
// can stop, and returns a pool with a 2 s read timeout, like the harness's own, the mount point
// and the server's socket.
func freezableDB(t *testing.T) (db *sql.DB, mnt, sock string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, b := range []string{"mariadbd", "mariadb-install-db", "losetup", "mkfs.ext4", "mount", "umount", "fsfreeze"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		labtest.SkipOrFail(t, fmt.Sprintf("needs %v", missing))
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	mnt, sock = filepath.Join(dir, "mnt"), filepath.Join(dir, "mysqld.sock")
	f, err := os.Create(img)
	if err == nil {
		err = f.Truncate(256 << 20)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(must(t, "losetup", "--find", "--show", img))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	must(t, "mkfs.ext4", "-q", dev)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, "mount", dev, mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	data := filepath.Join(mnt, "data")
	must(t, "mariadb-install-db", "--no-defaults", "--user=root", "--datadir="+data, "--skip-test-db", "--auth-root-authentication-method=normal")
	srv := exec.Command("mariadbd", "--no-defaults", "--user=root", "--datadir="+data, "--socket="+sock, "--skip-networking",
		"--pid-file="+filepath.Join(dir, "mysqld.pid"), "--log-error="+filepath.Join(dir, "error.log"),
		"--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=1")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	// Registered last, so run first: never leave a frozen filesystem behind.
	t.Cleanup(func() { exec.Command("fsfreeze", "-u", mnt).Run() })
	db = openVia(t, sock)
	for deadline := time.Now().Add(60 * time.Second); db.Ping() != nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("mariadbd did not take connections within 60 s:\n%s", log)
		}
	}
	return db, mnt, sock
}

func freeze(t *testing.T, mnt string, on bool) {
	t.Helper()
	flag := "-u"
	if on {
		flag = "-f"
	}
	must(t, "fsfreeze", flag, mnt)
}

func must(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
