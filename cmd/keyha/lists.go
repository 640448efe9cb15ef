package main

import (
	"slices"

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

// list reads a listFlag: urfave/cli has split it at commas and trimmed each item; empty ones
// (--at "") are dropped.
func list(c *cli.Context, name string) []string {
	return slices.DeleteFunc(slices.Clone(c.StringSlice(name)), func(s string) bool { return s == "" })
}
