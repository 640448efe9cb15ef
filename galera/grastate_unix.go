package galera

import (
	"os"
	"syscall"
)

func chownLike(path string, fi os.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return os.Chown(path, int(st.Uid), int(st.Gid))
	}
	return nil
}
