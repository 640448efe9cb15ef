package agent

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// A socket passed as systemd passes it (descriptor 3, LISTEN_FDS=1, LISTEN_PID the process's own)
// is taken for the address it listens on; a connection made before the process even started is
// answered by it.
func TestInheritedSocket(t *testing.T) {
	if os.Getenv("KEYHA_ACTIVATION_HELPER") == "1" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid())) // what systemd sets in the child before exec
		ls, err := inherited()
		if err != nil || len(ls) != 1 {
			os.Exit(3)
		}
		if take(&ls, os.Getenv("KEYHA_ACTIVATION_ADDR")) == nil || len(ls) != 0 {
			os.Exit(4)
		}
		if os.Getenv("LISTEN_FDS") != "" {
			os.Exit(5) // a child of the agent must not take the sockets for its own
		}
		os.Exit(0)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run := func(addr string) error {
		cmd := exec.Command(os.Args[0], "-test.short", "-test.run=^TestInheritedSocket$") // -short: no lab
		cmd.Env = append(os.Environ(), "KEYHA_ACTIVATION_HELPER=1", "LISTEN_FDS=1", "KEYHA_ACTIVATION_ADDR="+addr)
		cmd.ExtraFiles = []*os.File{f} // descriptor 3
		return cmd.Run()
	}
	if err := run(l.Addr().String()); err != nil {
		t.Errorf("the passed socket was not taken for %s: %v", l.Addr(), err)
	}
	if err := run("127.0.0.1:1"); err == nil {
		t.Errorf("a passed socket was taken for an address it does not listen on")
	}
	// The socket outlives the process that held it: a check queued meanwhile is still there.
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		s, err := l.Accept()
		if err == nil {
			s.Write([]byte("up\n"))
			s.Close()
		}
	}()
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "up\n" {
		t.Errorf("queued connection: %q %v", line, err)
	}
}

// An activation the agent cannot use is an error that says where to look, never a silent
// fallback to sockets of its own beside systemd's.
func TestInheritedRefusesGarbage(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("LISTEN_FDS", "two")
	if _, err := inherited(); err == nil {
		t.Error("LISTEN_FDS=two taken")
	}
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	if ls, err := inherited(); err != nil || ls != nil {
		t.Errorf("variables meant for another process: %v %v", ls, err)
	}
}
