package drbd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Step is one layer of what runs on the Primary: DRBD's role, the filesystem, the database,
// Keystone. Up brings it up, Down takes it down; each is one command (argv), bounded by Timeout.
type Step struct {
	Name    string
	Up      []string
	Down    []string
	Timeout time.Duration
}

// Stack runs the layers in order. Start brings them up in order and, when one fails, takes down
// the ones it brought up, in reverse, so a failed promotion leaves no half-started Primary. Stop
// takes every layer down in reverse order and goes on past failures (a demotion must get as far as
// it can), reporting them all.
type Stack struct {
	Steps []Step
	Run   Runner
}

// Start brings the stack up; on failure it rolls back and returns what failed and what the
// rollback did.
func (s Stack) Start(ctx context.Context) error {
	for i, st := range s.Steps {
		if err := s.do(ctx, st, st.Up); err != nil {
			// The rollback runs even when ctx ended the start (the operator's client went away,
			// the agent is stopping): a half-started Primary must not stay. Each layer is still
			// bounded by its own timeout.
			rb := s.down(context.WithoutCancel(ctx), s.Steps[:i])
			msg := fmt.Sprintf("start %s: %v; rolled back %s", st.Name, err, names(s.Steps[:i]))
			if rb != nil {
				msg += "; the rollback failed too: " + rb.Error()
			}
			return errors.New(msg)
		}
	}
	return nil
}

// Stop takes the stack down, every layer, in reverse order.
func (s Stack) Stop(ctx context.Context) error { return s.down(ctx, s.Steps) }

func (s Stack) down(ctx context.Context, steps []Step) error {
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := s.do(ctx, steps[i], steps[i].Down); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", steps[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

func (s Stack) do(ctx context.Context, st Step, argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	t := st.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	pdl, ok := ctx.Deadline()
	parentLimited := ok && pdl.Before(time.Now().Add(t))
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	_, err := s.Run(ctx, argv[0], argv[1:]...)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		if parentLimited {
			return fmt.Errorf("%s did not finish before the whole action's deadline", strings.Join(argv, " "))
		}
		return fmt.Errorf("%s did not finish within %s", strings.Join(argv, " "), t)
	}
	return err
}

func names(steps []Step) string {
	if len(steps) == 0 {
		return "nothing"
	}
	n := make([]string, len(steps))
	for i, s := range steps {
		n[i] = s.Name
	}
	return strings.Join(n, ", ")
}
