package cli

// The command line fails loudly: an unknown or missing subcommand, a wrong
// number of arguments or a bad flag is an error with the command's usage and
// a non-zero exit, and client commands refuse a profile that does not exist
// instead of creating it.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/profile"
)

// usageError is a command-line mistake: Main prints the error and then the
// usage of cmd.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// createsProfile lists the top-level commands that may run on a profile
// that does not exist yet (and create it); bench uses no profile.
var createsProfile = map[string]bool{"init": true, "up": true, "daemon": true, "relay": true, "bench": true, "help": true}

// makeStrict sets up root and every command below it to fail loudly.
func (a *app) makeStrict(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{c, err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		top := cmd
		for top.HasParent() && top.Parent() != root {
			top = top.Parent()
		}
		if top == root || createsProfile[top.Name()] {
			return nil
		}
		return a.needProfile()
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c == root {
			return // cobra itself rejects an unknown top-level command
		}
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			// A parent that cobra would answer with its help and exit 0. The
			// check is an argument check so that it comes before the
			// profile check; RunE only makes cobra call it.
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return &usageError{cmd, fmt.Errorf("%q needs a subcommand", cmd.CommandPath())}
				}
				return &usageError{cmd, fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			c.RunE = func(*cobra.Command, []string) error { return nil }
			return
		}
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return &usageError{cmd, err}
				}
				return nil
			}
		}
	}
	walk(root)
}

// needProfile fails unless the --profile exists, saying how to create it.
func (a *app) needProfile() error {
	_, err := profile.Lookup(a.profileName)
	if !errors.Is(err, profile.ErrNoProfile) {
		return err
	}
	flag := ""
	if a.profileName != profile.DefaultName {
		flag = " --profile " + a.profileName
	}
	return fmt.Errorf("%w: create it with `parley%s init` (or run a node with `parley%s up`)", err, flag, flag)
}

// isUnknownCommand recognises cobra's own error for an unknown top-level
// command, which it returns before any hook of ours runs.
func isUnknownCommand(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "unknown command ")
}
