package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyha/keyha/internal/atomicfile"
)

// Maint is the operator's maintenance flag for a site: a file in the agent's state dir, so it
// survives agent restarts and reboots (when the state dir is on disk).
type Maint struct{ path string }

// NewMaint returns the flag of a site, kept in dir (the cluster file's agent.state_dir).
func NewMaint(dir, site string) *Maint {
	return &Maint{path: filepath.Join(dir, "maint-"+site)}
}

// On says whether maintenance is on. An error other than "no such file" is returned: the caller
// treats doubt as maintenance.
func (m *Maint) On() (bool, error) {
	_, err := os.Stat(m.path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// Set turns maintenance on (with a reason recorded in the file) or off.
func (m *Maint) Set(on bool, reason string) error {
	if !on {
		if err := os.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("end maintenance: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(m.path), 0o755); err != nil {
		return fmt.Errorf("start maintenance: %w", err)
	}
	body := fmt.Sprintf("since %s\n%s\n", time.Now().UTC().Format(time.RFC3339), strings.TrimSpace(reason))
	if err := atomicfile.WriteFile(m.path, []byte(body), atomicfile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("start maintenance: %w", err)
	}
	return nil
}
