package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/files"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// FileProgress is a running fetch's state (Event.File).
type FileProgress struct {
	Group   string  `json:"group"`
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Done    uint64  `json:"done"`
	Total   uint64  `json:"total"`
	Speed   float64 `json:"speed"`         // bytes/s
	ETA     float64 `json:"eta,omitempty"` // seconds
	Sources int     `json:"sources"`
	// Fetched is chunks fetched by this run; Bad chunks refused as not
	// matching the tree.
	Fetched int `json:"fetched"`
	Bad     int `json:"bad,omitempty"`
	// State is "partial" while running, "paused" while the disk is full
	// (DiskFull set, Error says how much is free), then "complete" or
	// "failed".
	State    string `json:"state"`
	Error    string `json:"error,omitempty"`
	DiskFull bool   `json:"disk_full,omitempty"`
}

// FileStatePaused is a fetch's state in an EventFile while the disk is full.
const FileStatePaused = "paused"

// startFetch runs (or joins) the fetch of a file in the background; it
// keeps going after the caller leaves and stops when the node closes.
func (n *Node) startFetch(g *group, id store.MessageID, f *wirepb.FileAnnounce) *fileFetch {
	var root [files.HashLen]byte
	copy(root[:], f.Root)
	fs := n.files
	fs.mu.Lock()
	if ff := fs.running[root]; ff != nil {
		fs.mu.Unlock()
		return ff
	}
	ff := &fileFetch{done: make(chan struct{})}
	fs.running[root] = ff
	before := fs.fetched[root]
	fs.mu.Unlock()
	e, err := fs.store.Get(root)
	if err != nil {
		ff.err = err
		n.endFetch(root, ff)
		return ff
	}
	gid, mid := hex.EncodeToString(g.rec.ID[:]), hex.EncodeToString(id[:])
	prog := func(p files.Progress, state string, err error) {
		fp := &FileProgress{Group: gid, ID: mid, Name: f.Name, Done: p.Done, Total: p.Total, Speed: p.Speed,
			ETA: p.ETA.Seconds(), Sources: p.Peers, Fetched: p.Fetched, Bad: p.Bad, State: state}
		if err != nil {
			fp.Error = err.Error()
			fp.DiskFull = errors.Is(err, ErrDiskFull)
		}
		n.events.publish(Event{Type: EventFile, Group: gid, File: fp})
	}
	var last files.Progress
	cfg := files.FetchConfig{
		Entry: e, Key: f.Key, Peers: func() []peer.ID { return n.memberPeers(root) },
		Open: func(ctx context.Context, p peer.ID) (files.Stream, error) {
			return n.host.NewStream(ctx, p, FileProtocol)
		},
		StallTimeout: n.cfg.fileStall,
		// Two streams to each peer: while one waits on the disk or the
		// checks, the other keeps the connection full (--files measured
		// 0.73-1.1 of a plain stream against 0.58-0.74 with one).
		PerPeer: 2,
		OnProgress: func(p files.Progress) {
			fs.mu.Lock()
			ff.prog, last = p, p
			fs.fetched[root] = before + p.Fetched
			fs.mu.Unlock()
			prog(p, files.StatePartial, nil)
		},
		OnBadPeer: func(p peer.ID, err error) {
			switch {
			case errors.Is(err, files.ErrBadProof):
				n.drops.countReason("file-bad-chunk")
			case errors.Is(err, files.ErrStalled):
				n.drops.countReason("file-stalled")
			case errors.Is(err, files.ErrRefused):
				n.drops.countReason("file-refused-by-peer")
			}
		},
		Space: fs.store.CheckSpace,
		OnPause: func(err error) {
			fs.mu.Lock()
			ff.paused = err
			p := last
			fs.mu.Unlock()
			p.Done, p.Total = e.HaveBytes(), f.Size
			if err != nil {
				prog(p, FileStatePaused, err)
			} else {
				prog(p, files.StatePartial, nil)
			}
		},
		Log: n.log,
	}
	if !n.goOwned(func() {
		err := files.Fetch(n.ctx, cfg)
		ff.err = err
		state := e.Meta().State
		if err != nil && !errors.Is(err, context.Canceled) {
			n.log.Warn("file fetch", "name", f.Name, "err", err)
		}
		fs.mu.Lock()
		p := last
		fs.mu.Unlock()
		p.Done, p.Total = e.HaveBytes(), f.Size
		prog(p, state, err)
		n.endFetch(root, ff)
	}) {
		ff.err = ErrClosed
		n.endFetch(root, ff)
	}
	return ff
}

func (n *Node) endFetch(root [files.HashLen]byte, ff *fileFetch) {
	n.files.mu.Lock()
	if n.files.running[root] == ff {
		delete(n.files.running, root)
	}
	n.files.mu.Unlock()
	close(ff.done)
}

// FetchFile fetches a file announced in a group from the members who hold
// it, several at once, and returns when it is complete and checked. If ctx
// ends first the fetch goes on in the background (and resumes after a
// restart) until the node closes; progress is reported as EventFile.
func (n *Node) FetchFile(ctx context.Context, ref, id string) error {
	if n.files.store == nil {
		return ErrNoFileStore
	}
	if n.Host() == nil {
		return ErrNotStarted
	}
	f, g, mid, err := n.resolveFile(ref, id)
	if err != nil {
		return err
	}
	var root [files.HashLen]byte
	copy(root[:], f.Root)
	l := files.LayoutOf(f.Size, f.ChunkSize, f.Version, f.Key)
	e, err := n.files.store.Announced(root, l, f.ContentHash,
		files.Announce{Group: hex.EncodeToString(g.rec.ID[:]), ID: hex.EncodeToString(mid[:])})
	if err != nil {
		return err
	}
	switch e.Meta().State {
	case files.StateComplete:
		return nil
	case files.StateFailed:
		return fmt.Errorf("%w: %s", ErrFileCorrupt, f.Name)
	case files.StateMissing:
		if err := n.files.store.CheckLimit(int64(f.Size)); err != nil {
			return err
		}
	}
	if err := n.files.store.CheckSpace(); err != nil {
		return err // a wanted fetch already running stays paused and resumes by itself
	}
	if err := e.SetWanted(true); err != nil {
		return err
	}
	ff := n.startFetch(g, mid, f)
	select {
	case <-ff.done:
		if ff.err != nil && errors.Is(ff.err, files.ErrFailed) {
			return fmt.Errorf("%w: %s", ErrFileCorrupt, f.Name)
		}
		return ff.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SaveFile writes a complete file's content to outPath (decrypted, checked
// against the content hash; written to a temporary file renamed into place,
// so outPath never holds unchecked bytes). An empty outPath means the
// announced name in the current directory.
func (n *Node) SaveFile(ref, id, outPath string) error {
	if n.files.store == nil {
		return ErrNoFileStore
	}
	f, _, _, err := n.resolveFile(ref, id)
	if err != nil {
		return err
	}
	var root [files.HashLen]byte
	copy(root[:], f.Root)
	e, err := n.files.store.Get(root)
	if err != nil || e.Meta().State != files.StateComplete {
		return fmt.Errorf("%w: %s", ErrFileIncomplete, f.Name)
	}
	if outPath == "" {
		outPath = fileName(f.Name)
	}
	if st, err := os.Stat(outPath); err == nil && st.IsDir() {
		outPath = filepath.Join(outPath, fileName(f.Name))
	}
	tmp, err := os.CreateTemp(filepath.Dir(outPath), "."+filepath.Base(outPath)+".part-")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	defer os.Remove(tmp.Name())
	if err := e.Export(f.Key, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), outPath)
}

// OpenFile opens a complete file's content for streaming (the HTTP API's
// download, with Range): the reader decrypts one chunk at a time.
func (n *Node) OpenFile(ref, id string) (FileInfo, io.ReadSeeker, error) {
	if n.files.store == nil {
		return FileInfo{}, nil, ErrNoFileStore
	}
	f, g, mid, err := n.resolveFile(ref, id)
	if err != nil {
		return FileInfo{}, nil, err
	}
	var root [files.HashLen]byte
	copy(root[:], f.Root)
	e, err := n.files.store.Get(root)
	if err != nil || e.Meta().State != files.StateComplete {
		return FileInfo{}, nil, fmt.Errorf("%w: %s", ErrFileIncomplete, f.Name)
	}
	fi := fileInfoOf(hex.EncodeToString(mid[:]), hex.EncodeToString(g.rec.ID[:]), f)
	fi.State, fi.Done = files.StateComplete, f.Size
	r, err := e.NewReader(f.Key)
	if err != nil {
		return FileInfo{}, nil, err
	}
	return *fi, r, nil
}

// FileStats counts served chunks and refused requests.
func (n *Node) FileStats() (served, refused uint64, used int64) {
	if n.files.server != nil {
		served, refused = n.files.server.Served.Load(), n.files.server.Refused.Load()
	}
	if n.files.store != nil {
		used = n.files.store.Used()
	}
	return
}

// countReason counts a drop under a reason of its own.
func (d *dropCounters) countReason(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = map[string]uint64{}
	}
	d.counts[reason]++
}
