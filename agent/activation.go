package agent

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// inherited takes the listening sockets systemd passes (socket activation: LISTEN_PID, LISTEN_FDS,
// file descriptors from 3). systemd keeps them open across a restart of the agent, so HAProxy's
// checks wait in the kernel's queue for the new process instead of failing: a restarted, upgraded
// or crashed agent that is back within the check timeout costs no write at all.
// Each socket is matched to the cluster file by the address it listens on, not by order.
func inherited() ([]net.Listener, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if fds == "" || pid != strconv.Itoa(os.Getpid()) {
		return nil, nil // not activated, or the variables were meant for another process
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count of sockets", fds)
	}
	var ls []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close() // FileListener made its own descriptor
		if err != nil {
			closeAll(ls)
			return nil, fmt.Errorf("socket activation: descriptor %d is not a listening TCP socket (check the socket unit's ListenStream= lines): %w", fd, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// take removes from ls the listener bound to addr, if there is one.
func take(ls *[]net.Listener, addr string) net.Listener {
	want, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil
	}
	for i, l := range *ls {
		got, ok := l.Addr().(*net.TCPAddr)
		if ok && got.Port == want.Port && got.IP.Equal(want.IP) {
			*ls = append((*ls)[:i], (*ls)[i+1:]...)
			return l
		}
	}
	return nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}
