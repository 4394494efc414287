package cli

// Read commands (groups, members, history) go through the running node's
// API, or read the store directly when no node runs. Reading the store must
// never make a node fail to start: a reader holds the store only while it
// reads (output is buffered and written after the store is closed), and a
// reader that finds the store locked (a node starting or running without its
// api.json yet) waits, bounded, for the node's API and uses that.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/store"
)

// Bounds of the wait for a node that holds the store.
const (
	lockedWait = 10 * time.Second       // in all
	lockedPoll = 100 * time.Millisecond // between tries
)

// reader is the read-only view shared by the API client and the local store.
type reader interface {
	Groups(ctx context.Context) ([]node.GroupInfo, error)
	MemberList(ctx context.Context, group string) ([]api.Member, error)
	History(ctx context.Context, group, before string, limit int) ([]node.Message, error)
	searchReader // search.go
}

type localReader struct{ l *node.Local }

func (r localReader) Groups(context.Context) ([]node.GroupInfo, error) { return r.l.Groups() }
func (r localReader) MemberList(_ context.Context, g string) ([]api.Member, error) {
	ms, err := r.l.Members(g)
	if err != nil {
		return nil, err
	}
	out := make([]api.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, api.MemberFromLegacy(m)) // roles need the running node
	}
	return out, nil
}
func (r localReader) History(_ context.Context, g, before string, limit int) ([]node.Message, error) {
	return r.l.History(g, before, limit)
}

// read runs fn against the running node, or against the local store when
// no node runs (with a note on stderr).
func (a *app) read(ctx context.Context, fn func(r reader) error) error {
	var (
		p     *profile.Profile
		sopts []store.Option // asked once, not at every try
	)
	deadline := time.Now().Add(lockedWait)
	for {
		// The node's API, if it publishes one and answers.
		c, err := a.client()
		if err == nil {
			err = fn(c)
		}
		if !errors.Is(err, api.ErrNotRunning) {
			return err
		}
		if p == nil {
			if p, err = a.profile(); err != nil {
				return err
			}
			if sopts, err = a.storeOptions(p); err != nil {
				return err
			}
		}
		err = a.readLocal(p, sopts, fn)
		if !errors.Is(err, profile.ErrLocked) {
			return err
		}
		// The store is held: by a node starting up (its API comes soon) or
		// shutting down, or by another reader (it lets go soon). Take
		// whichever comes first.
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w: a parley node seems to be running (or starting) without publishing its control API (%s missing or stale after %v); wait for it to finish starting, or stop it and retry",
				err, p.APIFile(), lockedWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockedPoll):
		}
	}
}

// readLocal runs fn against the store, holding it only while fn reads:
// fn's output is buffered and written once the store is closed.
func (a *app) readLocal(p *profile.Profile, sopts []store.Option, fn func(r reader) error) error {
	st, err := p.OpenStore(append(sopts, store.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		return storeError(err, p)
	}
	var out, errb bytes.Buffer
	stdout, stderr := a.stdout, a.stderr
	a.stdout, a.stderr = &out, &errb
	err = func() error {
		id, err := node.EnsureIdentity(st, "")
		if err != nil {
			return err
		}
		return fn(localReader{node.NewLocal(st, id.ID)})
	}()
	a.stdout, a.stderr = stdout, stderr
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	fmt.Fprintln(a.stderr, "(node not running: reading local store)")
	_, _ = io.Copy(a.stdout, &out)
	_, _ = io.Copy(a.stderr, &errb)
	return err
}

// callWhenUp runs fn against the node that holds the store, waiting
// (bounded) for a starting node to publish its API.
func (a *app) callWhenUp(ctx context.Context, fn func(c *api.Client) error) error {
	deadline := time.Now().Add(lockedWait)
	for {
		c, err := a.client()
		if err == nil {
			err = fn(c)
		}
		if !errors.Is(err, api.ErrNotRunning) {
			return err
		}
		if !time.Now().Before(deadline) {
			return a.call(fn) // once more, for its advice
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockedPoll):
		}
	}
}
