package node

// Files: sending, listing, fetching and saving files announced in groups.
// The chunk logic lives in node/internal/files; this file ties it to groups,
// members, messages and events. See docs/files.md.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/files"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// FileProtocol is the stream protocol files are fetched over.
const FileProtocol = files.Protocol

// DefaultAutoDownload is the size up to which announced files are fetched
// without being asked.
const DefaultAutoDownload = 10 << 20

// EventFile reports a file's fetch progress or end (Event.File).
const EventFile = "file"

// File errors.
var (
	// ErrNoFileStore: the node has no profile directory to keep files in.
	ErrNoFileStore = errors.New("no file store (in-memory node without WithFilesDir)")
	// ErrFileLimit: the profile's file size limit would be exceeded.
	ErrFileLimit = files.ErrLimit
	// ErrNoSuchFile: the id names no file announcement in the group.
	ErrNoSuchFile = errors.New("no such file")
	// ErrFileIncomplete: the file is not (yet) held complete.
	ErrFileIncomplete = errors.New("file not downloaded yet")
	// ErrFileCorrupt: all chunks arrived but the content does not hash to
	// the announced content hash (the announcement lies).
	ErrFileCorrupt = files.ErrFailed
)

// FileInfo is a file announced in a group and its local state.
type FileInfo struct {
	ID     string    `json:"id"` // the announcing message's id
	Group  string    `json:"group"`
	Author string    `json:"author,omitempty"`
	Time   time.Time `json:"time"`
	Name   string    `json:"name"`
	Size   uint64    `json:"size"`
	Mime   string    `json:"mime,omitempty"`
	Hash   string    `json:"hash"` // content hash, hex (docs/files.md: a tree root, over the sealed chunks in V3; V1 files: SHA-256)
	Root   string    `json:"root"` // hash-tree root, hex
	// State is "complete", "partial", "missing" or "failed" (Files only;
	// empty in a Message).
	State    string  `json:"state,omitempty"`
	Done     uint64  `json:"done"`              // bytes held
	Speed    float64 `json:"speed,omitempty"`   // bytes/s of a running fetch
	ETA      float64 `json:"eta,omitempty"`     // seconds left of a running fetch
	Sources  int     `json:"sources,omitempty"` // peers serving a running fetch
	Fetching bool    `json:"fetching,omitempty"`
	// Fetched is the chunks this node fetched for the file since it
	// started (a resumed fetch asks only for the chunks not yet held).
	Fetched int    `json:"fetched,omitempty"`
	Error   string `json:"error,omitempty"`
	// DiskFull: the fetch is paused until space is freed (Error says how
	// much is free); it resumes by itself.
	DiskFull bool `json:"disk_full,omitempty"`
}

// fileInfoOf is the announcement's part of a FileInfo (a Message's File).
func fileInfoOf(id, group string, f *wirepb.FileAnnounce) *FileInfo {
	return &FileInfo{ID: id, Group: group, Name: f.Name, Size: f.Size, Mime: f.Mime,
		Hash: hex.EncodeToString(f.ContentHash), Root: hex.EncodeToString(f.Root)}
}

// fileState is the node's file part: nil store when there is no directory.
type fileState struct {
	store  *files.Store
	server *files.Server

	mu      sync.Mutex
	running map[[files.HashLen]byte]*fileFetch
	fetched map[[files.HashLen]byte]int // chunks fetched since start, per root
}

type fileFetch struct {
	done   chan struct{}
	err    error
	prog   files.Progress
	paused error // disk full: waiting for space
}

// openFiles opens the file store for New.
func openFiles(c config, dir string) (*fileState, error) {
	fs := &fileState{running: map[[files.HashLen]byte]*fileFetch{}, fetched: map[[files.HashLen]byte]int{}}
	fdir := c.filesDir
	if fdir == "" && !c.inMemory && c.store == nil && dir != "" {
		fdir = filepath.Join(dir, "files")
	}
	if fdir == "" {
		return fs, nil
	}
	st, err := files.Open(fdir, c.fileLimit)
	if err != nil {
		return nil, fmt.Errorf("open file store: %w", err)
	}
	fs.store = st
	return fs, nil
}

// startFiles serves files and resumes the fetches that were asked for.
func (n *Node) startFiles() {
	fs := n.files
	if fs.store == nil {
		return
	}
	reserve := n.cfg.fileReserve
	if reserve <= 0 {
		reserve = n.st.DiskSpace().Reserve
	}
	if reserve <= 0 {
		reserve = store.DefaultDiskReserve
	}
	fs.store.SetReserve(reserve)
	fs.store.SetSpaceCheck(func() error {
		if n.st.DiskSpace().Full {
			return fmt.Errorf("%w: the message store's disk is full", ErrDiskFull)
		}
		return nil
	})
	fs.server = files.NewServer(fs.store, n.mayFetch, n.log)
	n.host.SetStreamHandler(FileProtocol, fs.server.Handle)
	for _, e := range fs.store.All() {
		m := e.Meta()
		if !m.Wanted || m.State == files.StateComplete || m.State == files.StateFailed {
			continue
		}
		for _, a := range m.Announced {
			if ann, g, id, err := n.announcement(a.Group, a.ID); err == nil {
				n.startFetch(g, id, ann)
				break
			}
		}
	}
}

func (n *Node) closeFiles() {
	if n.files.store != nil {
		n.files.store.Close()
	}
}

// mayFetch: p is a current member of a group that announced root.
func (n *Node) mayFetch(p peer.ID, root [files.HashLen]byte) bool {
	e, err := n.files.store.Get(root)
	if err != nil {
		return false
	}
	for _, a := range e.Meta().Announced {
		if g := n.groupByHex(a.Group); g != nil && n.isMemberPeer(g, p) {
			return true
		}
	}
	n.drops.countReason("file-refused")
	return false
}

func (n *Node) groupByHex(s string) *group {
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != len(store.GroupID{}) {
		return nil
	}
	var id store.GroupID
	copy(id[:], raw)
	return n.groupByID(id)
}

func (n *Node) isMemberPeer(g *group, p peer.ID) bool {
	if g.mem.legacy() {
		g.membersMu.Lock()
		defer g.membersMu.Unlock()
		_, ok := g.members[p]
		return ok
	}
	k, err := memberKeyOfPeer(p)
	return err == nil && g.mem.isMember(k)
}

// memberPeers lists the connected members (not us) of the groups that
// announced root: who may hold its chunks.
func (n *Node) memberPeers(root [files.HashLen]byte) []peer.ID {
	e, err := n.files.store.Get(root)
	if err != nil {
		return nil
	}
	seen := map[peer.ID]bool{}
	var out []peer.ID
	for _, p := range n.host.Libp2p().Network().Peers() {
		if p == n.self || seen[p] {
			continue
		}
		for _, a := range e.Meta().Announced {
			if g := n.groupByHex(a.Group); g != nil && n.isMemberPeer(g, p) {
				seen[p] = true
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// noteFile records an announcement stored in g (sent or received) and
// fetches small files at once.
func (n *Node) noteFile(g *group, v *envelope.Verified) {
	b, ok := v.Msg.Body.GetKind().(*wirepb.Body_File)
	if !ok || n.files.store == nil {
		return
	}
	f := b.File
	var root [files.HashLen]byte
	copy(root[:], f.Root)
	l := files.LayoutOf(f.Size, f.ChunkSize, f.Version, f.Key)
	a := files.Announce{Group: hex.EncodeToString(g.rec.ID[:]), ID: hex.EncodeToString(v.ID[:])}
	e, err := n.files.store.Announced(root, l, f.ContentHash, a)
	if err != nil {
		n.log.Warn("file announcement", "err", err)
		return
	}
	if v.Author != n.self && f.Size <= uint64(max(n.cfg.autoDownload, 0)) && e.Meta().State != files.StateComplete &&
		n.files.store.CheckLimit(int64(f.Size)) == nil && n.files.store.CheckSpace() == nil {
		e.SetWanted(true)
		n.startFetch(g, v.ID, f)
	}
}

// announcement finds a file announcement by group and message id (hex).
func (n *Node) announcement(group, id string) (*wirepb.FileAnnounce, *group, store.MessageID, error) {
	g := n.groupByHex(group)
	if g == nil {
		return nil, nil, store.MessageID{}, ErrGroupNotFound
	}
	return n.fileIn(g, id)
}

func (n *Node) fileIn(g *group, id string) (*wirepb.FileAnnounce, *group, store.MessageID, error) {
	var mid store.MessageID
	raw, err := hex.DecodeString(strings.TrimSpace(id))
	if err != nil || len(raw) != len(mid) {
		return nil, nil, mid, fmt.Errorf("%w: %q (a message id from `parley files`)", ErrNoSuchFile, id)
	}
	copy(mid[:], raw)
	s, err := n.st.Get(g.rec.ID, mid)
	if err != nil {
		return nil, nil, mid, fmt.Errorf("%w: %s", ErrNoSuchFile, id)
	}
	v, err := envelope.DecodeSigned(s.Raw)
	if err != nil {
		return nil, nil, mid, err
	}
	b, ok := v.Msg.Body.GetKind().(*wirepb.Body_File)
	if !ok {
		return nil, nil, mid, fmt.Errorf("%w: %s is not a file", ErrNoSuchFile, id)
	}
	return b.File, g, mid, nil
}

// resolveFile finds a file by group reference and id; a unique id prefix of
// at least 6 hex digits works too.
func (n *Node) resolveFile(ref, id string) (*wirepb.FileAnnounce, *group, store.MessageID, error) {
	g, err := n.group(ref)
	if err != nil {
		return nil, nil, store.MessageID{}, err
	}
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < 64 && len(id) >= 6 && n.files.store != nil {
		gid := hex.EncodeToString(g.rec.ID[:])
		var match []string
		for _, e := range n.files.store.All() {
			for _, a := range e.Meta().Announced {
				if a.Group == gid && strings.HasPrefix(a.ID, id) {
					match = append(match, a.ID)
				}
			}
		}
		if len(match) == 1 {
			id = match[0]
		} else if len(match) > 1 {
			return nil, nil, store.MessageID{}, fmt.Errorf("%w: %q matches %d files", ErrNoSuchFile, id, len(match))
		}
	}
	return n.fileIn(g, id)
}

// SendFile stores the file at path (hashed and sealed while streaming from
// disk), announces it in the group and serves it. It returns the
// announcement message once it is durably stored.
func (n *Node) SendFile(ctx context.Context, ref, path string) (Message, error) {
	if n.files.store == nil {
		return Message{}, ErrNoFileStore
	}
	g, err := n.memberGroup(ref)
	if err != nil {
		return Message{}, err
	}
	return n.sendImported(ctx, g, fileName(path), fileMime(path), func() (*files.Imported, error) { return n.files.store.Import(path) })
}

// SendFileReader is SendFile from a stream of exactly size bytes (the web
// chat's upload), named name; nothing is buffered beyond one chunk.
func (n *Node) SendFileReader(ctx context.Context, ref, name string, size int64, r io.Reader) (Message, error) {
	if n.files.store == nil {
		return Message{}, ErrNoFileStore
	}
	name = fileName(name)
	if name == "" || name == "." || name == "/" {
		return Message{}, fmt.Errorf("%w: a file needs a name", ErrInvalidInput)
	}
	g, err := n.memberGroup(ref)
	if err != nil {
		return Message{}, err
	}
	return n.sendImported(ctx, g, name, fileMime(name), func() (*files.Imported, error) { return n.files.store.ImportReader(r, size, name) })
}

func (n *Node) sendImported(ctx context.Context, g *group, name, mimeType string, do func() (*files.Imported, error)) (Message, error) {
	imp, err := do()
	if err != nil {
		if errors.Is(err, files.ErrLimit) || errors.Is(err, ErrDiskFull) {
			return Message{}, err
		}
		return Message{}, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	key := imp.Key
	if imp.Dedup {
		key = nil
		for _, a := range imp.Entry.Meta().Announced {
			if ann, _, _, err := n.announcement(a.Group, a.ID); err == nil {
				key = ann.Key
				break
			}
		}
		if key == nil {
			return Message{}, fmt.Errorf("%w: held copy has no announcement", ErrNoSuchFile)
		}
	}
	root := imp.Entry.Root()
	l := imp.Entry.Layout()
	f := &wirepb.FileAnnounce{Name: name, Size: l.Size, Mime: mimeType, Root: root[:], Key: key,
		ChunkSize: uint32(l.ChunkSize), ContentHash: imp.ContentHash, Version: uint32(l.Version)}
	m, err := n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_File{File: f}})
	if err != nil {
		return Message{}, err
	}
	return *m, nil
}

// fileName is the path's base name as an announcement may carry it.
func fileName(path string) string {
	name := strings.ToValidUTF8(filepath.Base(path), "_")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	for len(name) > envelope.MaxFileNameLen {
		name = name[:len(name)-1]
		name = strings.ToValidUTF8(name, "")
	}
	return name
}

func fileMime(path string) string {
	t := mime.TypeByExtension(strings.ToLower(filepath.Ext(path)))
	if t == "" || len(t) > envelope.MaxMimeLen {
		return "application/octet-stream"
	}
	return t
}

// Files lists the files announced in a group with their local state.
func (n *Node) Files(ref string) ([]FileInfo, error) {
	g, err := n.group(ref)
	if err != nil {
		return nil, err
	}
	if n.files.store == nil {
		return []FileInfo{}, nil
	}
	gid := hex.EncodeToString(g.rec.ID[:])
	out := []FileInfo{}
	for _, e := range n.files.store.All() {
		for _, a := range e.Meta().Announced {
			if a.Group != gid {
				continue
			}
			if fi, err := n.fileInfo(g, a.ID, e); err == nil {
				out = append(out, fi)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Time.Before(out[j].Time) || out[i].Time.Equal(out[j].Time) && out[i].ID < out[j].ID
	})
	return out, nil
}

func (n *Node) fileInfo(g *group, id string, e *files.Entry) (FileInfo, error) {
	var mid store.MessageID
	raw, _ := hex.DecodeString(id)
	copy(mid[:], raw)
	s, err := n.st.Get(g.rec.ID, mid)
	if err != nil {
		return FileInfo{}, err
	}
	v, err := envelope.DecodeSigned(s.Raw)
	if err != nil {
		return FileInfo{}, err
	}
	b, ok := v.Msg.Body.GetKind().(*wirepb.Body_File)
	if !ok {
		return FileInfo{}, ErrNoSuchFile
	}
	fi := fileInfoOf(id, hex.EncodeToString(g.rec.ID[:]), b.File)
	fi.Author, fi.Time = authorString(v.Author), time.UnixMilli(v.Msg.TimestampMs)
	m := e.Meta()
	fi.State, fi.Done = m.State, e.HaveBytes()
	if fi.State == files.StatePartial && fi.Done == 0 && e.Leaves() == nil {
		fi.State = files.StateMissing
	}
	n.files.mu.Lock()
	fi.Fetched = n.files.fetched[e.Root()]
	if ff := n.files.running[e.Root()]; ff != nil {
		fi.Fetching, fi.Speed, fi.Sources = true, ff.prog.Speed, ff.prog.Peers
		fi.ETA = ff.prog.ETA.Seconds()
		if ff.paused != nil {
			fi.DiskFull, fi.Error = true, ff.paused.Error()
		}
	}
	n.files.mu.Unlock()
	return *fi, nil
}
