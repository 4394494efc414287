package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/charmbracelet/x/term"

	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/cmd/parley/internal/tui"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/store"
)

// upLogFile is where `parley up` writes the node's log while the
// full-screen chat owns the terminal (in the profile directory).
const upLogFile = "up.log"

// isTerminal reports whether v is an *os.File on a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// runUp runs `parley up`: the full-screen chat when standard input and
// output are terminals and plain is not set, else the line-based chat.
func (a *app) runUp(ctx context.Context, f nodeFlags, plain bool) error {
	if plain || !isTerminal(a.stdin) || !isTerminal(a.stdout) {
		log, err := a.logger(slog.LevelWarn)
		if err != nil {
			return err
		}
		return a.runNode(ctx, log, f, a.chat)
	}
	notice, fallback := "", "" // fallback: profile to go back to if a switch fails
	for {
		ex, err := a.runTUIOnce(ctx, f, notice)
		if err != nil && !ex.started && fallback != "" && ctx.Err() == nil {
			failed := a.profileName
			a.profileName, fallback = fallback, ""
			notice = fmt.Sprintf("could not open profile %s: %v", failed, err)
			if errors.Is(err, store.ErrLocked) {
				notice = fmt.Sprintf("profile %s is in use by another parley node", failed)
			}
			continue
		}
		if err != nil || ex.to == "" || ctx.Err() != nil {
			return err
		}
		// Switch profile: this node stopped; start one on the other profile.
		fallback = a.profileName
		notice = fmt.Sprintf("now on profile %s (was %s)", ex.to, a.profileName)
		a.profileName, f.name = ex.to, "" // --name was for the first profile
		fmt.Fprintf(a.stdout, "switching to profile %q…\r\n", ex.to)
	}
}

type tuiExit struct {
	to      string // profile to switch to
	started bool   // the chat ran, so an error is not about opening the profile
}

// runTUIOnce runs one node with the full-screen chat, logging to the
// profile's up.log.
func (a *app) runTUIOnce(ctx context.Context, f nodeFlags, notice string) (tuiExit, error) {
	var ex tuiExit
	p, err := a.profile()
	if err != nil {
		return ex, err
	}
	logPath := filepath.Join(p.Dir, upLogFile)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return ex, err
	}
	defer lf.Close()
	la := *a
	la.stderr = lf
	log, err := la.logger(slog.LevelWarn)
	if err != nil {
		return ex, err
	}
	front := func(ctx context.Context, n *node.Node) error {
		ex.started = true
		name := n.Identity().Name
		res, err := tui.Run(ctx, n, a.stdin, a.stdout, tui.Options{
			Profile: p.Name, Name: name, Notice: notice, LogFile: logPath,
			Profiles: func() ([]tui.Profile, error) { return listProfiles(p.Name) },
		})
		ex.to = res.SwitchProfile
		return err
	}
	err = a.runNode(ctx, log, f, front)
	return ex, err
}

// listProfiles lists the profile directories under $PARLEY_HOME.
func listProfiles(current string) ([]tui.Profile, error) {
	home, err := profile.Home()
	if err != nil {
		return nil, err
	}
	des, err := os.ReadDir(home)
	if err != nil {
		return nil, err
	}
	var out []tui.Profile
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		dir := filepath.Join(home, de.Name())
		if _, err := os.Stat(filepath.Join(dir, "store")); err != nil {
			continue
		}
		_, apiErr := os.Stat(filepath.Join(dir, "api.json"))
		out = append(out, tui.Profile{Name: de.Name(), Current: de.Name() == current, Running: apiErr == nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
