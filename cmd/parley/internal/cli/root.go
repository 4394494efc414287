package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/store"
)

// app holds what every command shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	profileName    string
	logLevel       string
}

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "parley:", termtext.Sanitize(err.Error())) // node errors may quote names
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprint(stderr, "\n"+ue.cmd.UsageString())
	case isUnknownCommand(err):
		fmt.Fprint(stderr, "\n"+cmd.UsageString())
	}
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "parley",
		Short:         "Parley: peer-to-peer end-to-end-encrypted group chat",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `Parley is a peer-to-peer, end-to-end-encrypted group messenger.

Run a node with "parley up" (interactive chat) or "parley daemon" (background),
then use the other commands from another terminal. Profiles live in
$PARLEY_HOME (default ~/.parley), one directory per --profile.`,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&a.profileName, "profile", profile.DefaultName, "profile name (a directory under $PARLEY_HOME)")
	pf.StringVar(&a.logLevel, "log-level", "", "log level: debug, info, warn, error (default: info for daemon, warn otherwise)")

	root.AddCommand(a.initCmd(), a.daemonCmd(), a.upCmd(), a.groupCmd(), a.groupsCmd(),
		a.historyCmd(), a.tailCmd(), a.peersCmd(), a.statusCmd(), a.webCmd(), a.nameCmd())
	root.AddCommand(a.relayCmd())
	root.AddCommand(a.fileCmd(), a.filesCmd()) // files.go
	root.AddCommand(a.dmCmds()...)
	root.AddCommand(a.pollCmd())
	root.AddCommand(a.richCmds()...)
	root.AddCommand(a.configCmd()) // ux.go
	root.AddCommand(a.searchCmd())
	a.makeStrict(root)
	return root
}

// logger builds the stderr logger at --log-level, or def when unset.
func (a *app) logger(def slog.Level) (*slog.Logger, error) {
	lvl := def
	if a.logLevel != "" {
		if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
			return nil, fmt.Errorf("--log-level: %w", err)
		}
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl})), nil
}

func (a *app) profile() (*profile.Profile, error) { return profile.Open(a.profileName) }

// errNoNode is the message for commands that need a running node; detail,
// if not empty, says why we think so.
func (a *app) errNoNode(detail string) error {
	flag := ""
	if a.profileName != profile.DefaultName {
		flag = " --profile " + a.profileName
	}
	if detail != "" {
		detail = " (" + detail + ")"
	}
	return fmt.Errorf("no parley node is running for profile %q%s: start one with `parley%s daemon` or `parley%s up`",
		a.profileName, detail, flag, flag)
}

// client returns an API client for the running node, or an error wrapping
// api.ErrNotRunning when none runs.
func (a *app) client() (*api.Client, error) {
	p, err := a.profile()
	if err != nil {
		return nil, err
	}
	rt, tok, err := p.ReadRuntime()
	if errors.Is(err, profile.ErrNoRuntime) {
		return nil, fmt.Errorf("%w: %v", api.ErrNotRunning, err)
	}
	if err != nil {
		return nil, err
	}
	return api.NewClient(rt.Addr, tok), nil
}

// mustClient is client for commands that need a running node.
func (a *app) mustClient() (*api.Client, error) {
	c, err := a.client()
	if errors.Is(err, api.ErrNotRunning) {
		return nil, a.errNoNode("")
	}
	return c, err
}

// call runs fn against the running node, turning "not running" into advice.
func (a *app) call(fn func(c *api.Client) error) error {
	c, err := a.mustClient()
	if err != nil {
		return err
	}
	err = fn(c)
	if errors.Is(err, api.ErrNotRunning) {
		return a.errNoNode("nothing answers at the address in api.json; it is stale")
	}
	return err
}

func (a *app) initCmd() *cobra.Command {
	var name string
	var encrypt bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the profile and its identity (if needed) and print the peer id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.profile()
			if err != nil {
				return err
			}
			opts, err := a.initStoreOptions(p, encrypt)
			if err != nil {
				// No passphrase here, but a running node knows its id.
				if c, cerr := a.client(); cerr == nil && name == "" {
					if s, serr := c.Status(cmd.Context()); serr == nil {
						fmt.Fprintln(a.stdout, s.ID)
						return nil
					}
				}
				return err
			}
			st, err := p.OpenStore(append(opts, store.WithLogger(slog.New(slog.DiscardHandler)))...)
			if errors.Is(err, profile.ErrLocked) {
				if name != "" {
					return fmt.Errorf("%w: stop the running node to change the name, or restart it with `parley up --name %s`", err, name)
				}
				// A node runs (or is starting): ask it.
				return a.callWhenUp(cmd.Context(), func(c *api.Client) error {
					s, err := c.Status(cmd.Context())
					if err != nil {
						return err
					}
					fmt.Fprintln(a.stdout, s.ID)
					return nil
				})
			}
			if err != nil {
				return storeError(err, p)
			}
			defer st.Close()
			id, err := node.EnsureIdentity(st, name)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, id.ID)
			fmt.Fprintf(a.stderr, "profile %q at %s, name %q, port %d, %s\n", p.Name, p.Dir, id.Name, id.Port, storeState(st.Encrypted()))
			return st.Close()
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name shown to other members (default $USER or host name)")
	cmd.Flags().BoolVar(&encrypt, "passphrase", false, "encrypt a new profile's store with a passphrase (asked twice, or $"+PassphraseEnv+")")
	return cmd
}

// joinArgs joins command arguments into one message text.
func joinArgs(args []string) string { return strings.Join(args, " ") }
