// Package atomicfile replaces files so that a crash or a failed write never leaves a torn one:
// the data goes to a temporary file beside the target, which is synced, given its mode and owner,
// renamed over the target, and the folder synced so the rename itself survives a power loss.
// A reader sees the old file or the new one, whole.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Options say what the new file looks like.
type Options struct {
	// Mode of a new file. A file that exists keeps its own mode (and owner): the operator's choice.
	Mode fs.FileMode
	// Exact applies Mode to an existing file too.
	Exact bool
	// Max, when not zero, bounds the mode whichever it came from: key files are never readable by
	// more than Max allows (0600, 0640), even if the old file was.
	Max fs.FileMode
	// Owner, when set, is the uid and gid of the new file; otherwise an existing file's owner is
	// kept and a new file belongs to whoever writes it.
	Owner *Owner
}

// Owner is a file's numeric owner.
type Owner struct{ UID, GID int }

// WriteFile replaces path with data.
func WriteFile(path string, data []byte, o Options) error {
	return Write(path, o, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write replaces path with what fill writes. If fill or any step fails, path is left as it was and
// the temporary file is removed.
func Write(path string, o Options, fill func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode, owner := o.Mode.Perm(), o.Owner
	if fi, err := os.Stat(path); err == nil {
		if !o.Exact {
			mode = fi.Mode().Perm()
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && owner == nil {
			owner = &Owner{UID: int(st.Uid), GID: int(st.Gid)}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if o.Max != 0 {
		mode &= o.Max.Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Mode and owner first: the data is never readable by more than the final file allows.
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("replace %s: set mode: %w", path, err)
	}
	if owner != nil {
		if err := tmp.Chown(owner.UID, owner.GID); err != nil && !sameOwner(err, owner) {
			return fmt.Errorf("replace %s: set owner %d:%d: %w", path, owner.UID, owner.GID, err)
		}
	}
	if err := fill(tmp); err != nil {
		return fmt.Errorf("replace %s: write: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("replace %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("replace %s: close: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: rename: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// SyncDir makes a folder's entries (a rename, a removal) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// sameOwner: a chown to the owner a file already has may be refused to an unprivileged writer,
// and then changes nothing.
func sameOwner(err error, o *Owner) bool {
	return errors.Is(err, fs.ErrPermission) && os.Getuid() == o.UID && os.Getgid() == o.GID
}
