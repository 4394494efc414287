package tui

import (
	"context"
	"errors"
	"io"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
)

// Profile describes one profile directory for the /profile panel.
type Profile struct {
	Name    string
	Current bool
	Running bool // a node seems to run for it (api.json present)
}

// Options configure the chat.
type Options struct {
	Profile  string                    // current profile name (shown in the header)
	Name     string                    // own display name
	Profiles func() ([]Profile, error) // lists profiles for /profile (nil: not offered)
	Notice   string                    // shown in the status bar at start
	LogFile  string                    // where the node's log goes while the chat runs (shown in /help)
	// PageSize is how many messages one history page holds (default 200).
	PageSize int
}

// Result says why the chat ended.
type Result struct {
	// SwitchProfile, when set, asks the caller to stop this node and start
	// one on that profile.
	SwitchProfile string
}

// Run shows the chat on the terminal (in, out) until the user quits, ctx
// ends or the node closes.
func Run(ctx context.Context, be backend.Backend, in io.Reader, out io.Writer, opts Options) (Result, error) {
	m := New(ctx, be, opts)
	events, stop := be.Subscribe()
	defer stop()
	m.events = events
	m.tick = true
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(in), tea.WithOutput(out), tea.WithoutSignalHandler())
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			p.Quit()
		case <-done:
		}
	}()
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) {
		err = nil
	}
	return m.result, err
}
