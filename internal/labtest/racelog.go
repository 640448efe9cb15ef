package labtest

import (
	"fmt"
	"os"
	"path/filepath"
)

// raceLogs makes the lab's race-built keyha processes (agents and commands alike, which inherit
// GORACE from the tests through scripts/lab) write their race reports into a folder, and returns a
// func that prints whatever they reported and says whether there was anything.
func raceLogs() (report func() bool, err error) {
	dir, err := os.MkdirTemp("", "keyha-race-")
	if err != nil {
		return nil, err
	}
	// atexit_sleep_ms=0: a race-built agent exits at once, as the real one does (the default waits
	// 1 s, which a restart test would count against the agent).
	if err := os.Setenv("GORACE", "log_path="+filepath.Join(dir, "keyha")+" atexit_sleep_ms=0"); err != nil {
		return nil, err
	}
	return func() bool {
		defer os.RemoveAll(dir)
		files, _ := filepath.Glob(filepath.Join(dir, "keyha.*"))
		found := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || len(b) == 0 {
				continue
			}
			found = true
			fmt.Fprintf(os.Stderr, "labtest: a keyha process of the lab reported a data race (%s):\n%s\n", filepath.Base(f), b)
		}
		return found
	}, nil
}
