package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

// Exit codes (README: Exit codes): scripts tell "the cluster is broken" from "the check could not run".
const (
	exitOK     = 0
	exitFailed = 1 // could not run: bad input, a node unreachable, a refusal
	exitFound  = 2 // a check ran to the end and found loss, corruption or divergence
)

// found is the error of a check that ran and found the cluster broken.
func found(format string, a ...any) error { return cli.Exit(fmt.Sprintf(format, a...), exitFound) }

// exitCode maps a command's error to the process's exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != exitOK {
		return ec.ExitCode()
	}
	return exitFailed
}
