package galera

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"strconv"
	"strings"

	"github.com/keyha/keyha/internal/atomicfile"
)

// GraState is a node's grastate.dat: the cluster it belongs to and, after a clean stop, the last
// transaction it committed. A running node or one that crashed shows seqno -1; its position must
// then come from `mariadbd --wsrep-recover`.
type GraState struct {
	Version         string `json:"version"`
	UUID            string `json:"uuid"`
	Seqno           int64  `json:"seqno"`
	SafeToBootstrap bool   `json:"safe_to_bootstrap"`
}

// ZeroUUID is the state UUID of a node that has never joined a cluster.
const ZeroUUID = "00000000-0000-0000-0000-000000000000"

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ParseGraState reads the text of a grastate.dat.
func ParseGraState(b []byte) (GraState, error) {
	g := GraState{Seqno: -1}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return GraState{}, fmt.Errorf("grastate.dat: line %q is not key: value", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			g.Version = v
		case "uuid":
			if !uuidRE.MatchString(v) {
				return GraState{}, fmt.Errorf("grastate.dat: uuid %q is not a UUID", v)
			}
			g.UUID = v
		case "seqno":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < -1 {
				return GraState{}, fmt.Errorf("grastate.dat: seqno %q is not a number ≥ -1", v)
			}
			g.Seqno = n
		case "safe_to_bootstrap":
			if v != "0" && v != "1" {
				return GraState{}, fmt.Errorf("grastate.dat: safe_to_bootstrap %q is not 0 or 1", v)
			}
			g.SafeToBootstrap = v == "1"
		default:
			continue // newer versions may add keys
		}
		seen[k] = true
	}
	if !seen["uuid"] || !seen["seqno"] {
		return GraState{}, errors.New("grastate.dat: no uuid or seqno line")
	}
	return g, nil
}

// ReadGraState reads datadir/grastate.dat.
func ReadGraState(datadir string) (GraState, error) {
	b, err := os.ReadFile(filepath.Join(datadir, "grastate.dat"))
	if err != nil {
		return GraState{}, fmt.Errorf("read grastate.dat: %w", err)
	}
	return ParseGraState(b)
}

// SetSafeToBootstrap marks datadir's grastate.dat safe to bootstrap from, replacing the file
// atomically and keeping its owner and mode, as an operator would by editing it.
func SetSafeToBootstrap(datadir string) error {
	path := filepath.Join(datadir, "grastate.dat")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read grastate.dat: %w", err)
	}
	if _, err := ParseGraState(b); err != nil {
		return err
	}
	re := regexp.MustCompile(`(?m)^safe_to_bootstrap:\s*\d\s*$`)
	out := re.ReplaceAll(b, []byte("safe_to_bootstrap: 1"))
	if !re.Match(b) {
		out = append(bytes.TrimRight(b, "\n"), []byte("\nsafe_to_bootstrap: 1\n")...)
	}
	// A torn grastate.dat would cost the node its position: a full SST, or worse, a wrong bootstrap.
	return atomicfile.WriteFile(path, out, atomicfile.Options{Mode: 0o660})
}

// Position is a place in a cluster's history: its state UUID and a seqno.
type Position struct {
	UUID  string `json:"uuid"`
	Seqno int64  `json:"seqno"`
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.UUID, p.Seqno) }

var recoveredRE = regexp.MustCompile(`(?:WSREP(?::|\]) Recovered position:\s*|--wsrep[-_]start[-_]position=)([0-9a-f-]{36}):(-?\d+)`)

// ParseRecovered finds the position in what `mariadbd --wsrep-recover` logged ("WSREP: Recovered
// position: UUID:SEQNO"; Percona XtraDB Cluster 8.0's mysqld: "[WSREP] Recovered position: ...")
// or what Debian's galera_recovery and PXC's wsrep_recover print ("--wsrep_start_position=...");
// the last one wins.
func ParseRecovered(out []byte) (Position, error) {
	m := recoveredRE.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return Position{}, errors.New("no recovered position in the output of the recover command")
	}
	last := m[len(m)-1]
	if !uuidRE.MatchString(string(last[1])) {
		return Position{}, fmt.Errorf("recovered position names %q, not a UUID", last[1])
	}
	n, err := strconv.ParseInt(string(last[2]), 10, 64)
	if err != nil || n < -1 {
		return Position{}, fmt.Errorf("recovered seqno %q is not a number ≥ -1", last[2])
	}
	return Position{UUID: string(last[1]), Seqno: n}, nil
}
