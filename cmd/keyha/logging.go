package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"
)

var logFlags = []cli.Flag{
	&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"KEYHA_LOG_FORMAT"}, Usage: "text or json"},
	&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"KEYHA_LOG_LEVEL"},
		Usage: "debug, info, warn or error (debug includes memberlist's own lines)"},
}

// newLogger builds the process's logger from --log-format and --log-level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
