package load

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Defaults of the harness's commands.
const (
	DefaultRetryFor   = 2 * time.Minute
	DefaultTimeout    = time.Hour
	DefaultAuditEvery = 100 * time.Millisecond
)

// PrintRun writes a run's report for a person.
func PrintRun(w io.Writer, r *Report) {
	fmt.Fprintf(w, "run %s: %d of %d rows acknowledged (%d journaled to %s), %d given up, %d being retried when stopped\n",
		r.Run, r.Acked, r.Rows, r.Journaled, r.Journal, r.GivenUp, r.Interrupted)
	fmt.Fprintf(w, "  %.1f s, %.0f rows/s, concurrency %d, batch %d; by site %v\n", r.Elapsed, r.RowsPerSec, r.Concurrency, r.Batch, r.BySite)
	fmt.Fprintf(w, "  commit latency: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.1f ms (%d commits)\n",
		r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.Latency.Count)
	fmt.Fprintf(w, "  failed attempts by class: %s; retried: %s; committed despite an error: %d\n",
		classes(r.Errors), classes(r.Retries), r.CommittedAfterError)
	for _, f := range r.Faults {
		switch {
		case f.Skipped:
			fmt.Fprintf(w, "  fault %s: skipped (the load finished first)\n", f.Fault)
		case f.Error != "":
			fmt.Fprintf(w, "  fault %s at %.1fs: FAILED: %s\n", f.Fault, f.Offset, f.Error)
		case f.Down != "":
			fmt.Fprintf(w, "  fault %s at %.1fs: mysqld was not running: Galera took the node down after an earlier fault (see its log)\n", f.Fault, f.Offset)
		case f.Early:
			fmt.Fprintf(w, "  fault %s: run at %.1fs, early, because the load finished\n", f.Fault, f.Offset)
		default:
			fmt.Fprintf(w, "  fault %s at %.1fs (%.1fs)%s\n", f.Fault, f.Offset, f.Took, resumed(f, r.BySite))
		}
	}
}

// resumed says, for a break, after how long writes succeeded again through each site's target.
func resumed(f FaultResult, sites map[string]uint64) string {
	if !isBreak(f.Verb) {
		return ""
	}
	names := slices.Sorted(maps.Keys(sites))
	var parts []string
	for _, s := range names {
		if d, ok := f.Resumed[s]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2fs", s, d))
		} else {
			parts = append(parts, s+" never")
		}
	}
	return "; writes resumed via " + strings.Join(parts, ", ")
}

func classes(m map[Class]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]Class, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	return s
}

// PrintBank writes a bank run's verdict for a person.
func PrintBank(w io.Writer, r *BankReport) {
	fmt.Fprintf(w, "bank: %d accounts, total %d; %d transfers in %.1f s; transfer errors: %s\n",
		r.Accounts, r.Total, r.Transfers, r.Elapsed, classes(r.Failed))
	for _, s := range slices.Sorted(maps.Keys(r.Final)) {
		fb := r.Final[s]
		fmt.Fprintf(w, "  %-8s %6d audits (%d unanswered), final total %d checksum %08x %s\n", s, r.Reads[s], r.ReadErrors[s], fb.Total, fb.Checksum, fb.Error)
	}
	if r.OK {
		fmt.Fprintln(w, "OK: the total was right at every read on every node, and the books agree")
		return
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "FAIL:", p)
	}
}
