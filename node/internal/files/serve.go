package files

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/files/filepb"
)

// Protocol is the file transfer stream protocol.
const Protocol = "/parley/file/1.0.0"

// Frame bounds: a request is a root and a number; a response at most one
// sealed chunk with its proof, or the hash list of the largest file.
const (
	maxRequest  = 128
	maxResponse = MaxChunks*HashLen + 64<<10
	// idleTimeout closes a served stream that asks nothing for this long.
	idleTimeout = 2 * time.Minute
)

// Authorize tells whether a peer may fetch a root: it must be a current
// member of a group in which the root was announced.
type Authorize func(p peer.ID, root [HashLen]byte) bool

// Server answers /parley/file/1.0.0 streams from a store.
type Server struct {
	store *Store
	auth  Authorize
	log   *slog.Logger
	// Refused counts requests from peers not allowed the root they named.
	Refused atomic.Uint64
	// Served counts chunks sent.
	Served atomic.Uint64
}

// NewServer serves st's files to the peers auth allows.
func NewServer(st *Store, auth Authorize, log *slog.Logger) *Server {
	return &Server{store: st, auth: auth, log: log}
}

// Handle serves one stream (a libp2p stream handler).
func (s *Server) Handle(st network.Stream) {
	defer st.Close()
	s.serve(st, st.Conn().RemotePeer(), func() { st.SetReadDeadline(time.Now().Add(idleTimeout)) })
}

func (s *Server) serve(rw io.ReadWriter, from peer.ID, arm func()) {
	r := pbio.NewDelimitedReader(rw, maxRequest)
	w := pbio.NewDelimitedWriter(rw)
	var buf []byte
	for {
		arm()
		var req filepb.Request
		if err := r.ReadMsg(&req); err != nil {
			if !errors.Is(err, io.EOF) {
				s.log.Debug("file stream read", "peer", from, "err", err)
			}
			return
		}
		e, resp := s.lookup(from, &req)
		if rg, ok := req.Kind.(*filepb.Request_Range); ok && resp == nil {
			var err error
			if buf, err = s.sendRange(rw, w, e, rg.Range, buf); err != nil {
				return
			}
			continue
		}
		if resp == nil {
			resp, buf = s.answer(e, &req, buf)
		}
		if err := w.WriteMsg(resp); err != nil {
			return
		}
		if resp.Status == filepb.Status_REFUSED || resp.Status == filepb.Status_BAD_REQUEST {
			return
		}
	}
}

// maxRange bounds the chunks one range request asks for.
const maxRange = 256

// errBadRange ends a stream whose range request is out of bounds.
var errBadRange = errors.New("bad range request")

// sendRange streams the chunks of a range: per chunk a header frame, then
// (status OK) the sealed bytes raw. The chunk is read into buf behind room
// for its header, so header and chunk leave in one write.
func (s *Server) sendRange(rw io.Writer, w pbio.WriteCloser, e *Entry, rg *filepb.Range, buf []byte) ([]byte, error) {
	n := e.Layout().Chunks()
	if rg.GetCount() == 0 || rg.GetCount() > maxRange || int64(rg.GetFirst())+int64(rg.GetCount()) > int64(n) {
		w.WriteMsg(&filepb.Response{Status: filepb.Status_BAD_REQUEST})
		return buf, errBadRange
	}
	if need := headRoom + e.Layout().ChunkSize + Overhead; cap(buf) < need {
		buf = make([]byte, need)
	}
	for i := int(rg.First); i < int(rg.First+rg.Count); i++ {
		data, err := e.ReadChunk(i, buf[headRoom:headRoom])
		if err != nil {
			if err := w.WriteMsg(&filepb.Response{Status: filepb.Status_MISSING, Chunk: uint32(i)}); err != nil {
				return buf, err
			}
			continue
		}
		h, err := proto.Marshal(&filepb.Response{Chunk: uint32(i), DataLen: uint32(len(data))})
		if err != nil {
			return buf, err
		}
		var lb [binary.MaxVarintLen64]byte
		lp := binary.PutUvarint(lb[:], uint64(len(h)))
		start := headRoom - len(h) - lp
		copy(buf[start:], lb[:lp])
		copy(buf[start+lp:], h)
		if _, err := rw.Write(buf[start : headRoom+len(data)]); err != nil {
			return buf, err
		}
		s.Served.Add(1)
	}
	return buf, nil
}

// headRoom is the space kept in front of a chunk for its header frame.
const headRoom = 32

// lookup checks the request's root and the asker's right to it; a non-nil
// response is the refusal to send.
func (s *Server) lookup(from peer.ID, req *filepb.Request) (*Entry, *filepb.Response) {
	if len(req.Root) != HashLen {
		return nil, &filepb.Response{Status: filepb.Status_BAD_REQUEST}
	}
	var root [HashLen]byte
	copy(root[:], req.Root)
	if !s.auth(from, root) {
		s.Refused.Add(1)
		return nil, &filepb.Response{Status: filepb.Status_REFUSED}
	}
	e, err := s.store.Get(root)
	if err != nil {
		return nil, &filepb.Response{Status: filepb.Status_NOT_FOUND}
	}
	return e, nil
}

func (s *Server) answer(e *Entry, req *filepb.Request, buf []byte) (*filepb.Response, []byte) {
	switch k := req.Kind.(type) {
	case *filepb.Request_Have:
		bf := e.Bitfield()
		if bf == nil {
			return &filepb.Response{Status: filepb.Status_MISSING}, buf
		}
		return &filepb.Response{Bitfield: bf}, buf
	case *filepb.Request_Tree:
		l := e.Leaves()
		if l == nil {
			return &filepb.Response{Status: filepb.Status_MISSING}, buf
		}
		return &filepb.Response{Leaves: l}, buf
	case *filepb.Request_Chunk:
		data, err := e.ReadChunk(int(k.Chunk), buf)
		if err != nil {
			return &filepb.Response{Status: filepb.Status_MISSING}, buf
		}
		s.Served.Add(1)
		return &filepb.Response{Data: data, Proof: e.Proof(int(k.Chunk))}, data
	}
	return &filepb.Response{Status: filepb.Status_BAD_REQUEST}, buf
}
