package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// listFlag is a flag that takes a list either way: --at lngs,bari or --at lngs --at bari.
func listFlag(name, usage string, def ...string) *cli.StringSliceFlag {
	f := &cli.StringSliceFlag{Name: name, Usage: usage + " (comma-separated, or the flag repeated)"}
	if len(def) > 0 {
		f.Value = cli.NewStringSlice(def...)
	}
	return f
}

// list reads a listFlag: its items trimmed, empty ones dropped.
func list(c *cli.Context, name string) []string {
	var out []string
	for _, v := range c.StringSlice(name) {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
