package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/node"
)

// DefaultHeartbeat is how often an idle event stream gets a comment line.
const DefaultHeartbeat = 15 * time.Second

// Server is the control API's HTTP handler.
type Server struct {
	b         backend.Backend
	token     []byte
	log       *slog.Logger
	mux       *http.ServeMux
	heartbeat time.Duration
	web       http.Handler // serves the paths outside /v1/ when set
	// ctx ends every event stream when the server shuts down.
	ctx    context.Context
	cancel context.CancelFunc
}

// ServerOption configures NewServer.
type ServerOption func(*Server)

// WithHeartbeat sets the event-stream heartbeat interval (tests shorten it).
func WithHeartbeat(d time.Duration) ServerOption { return func(s *Server) { s.heartbeat = d } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) ServerOption { return func(s *Server) { s.log = l } }

// WithWebUI serves h, without the token, for every path outside /v1/ (the
// browser app's assets, which hold no data).
func WithWebUI(h http.Handler) ServerOption { return func(s *Server) { s.web = h } }

// NewServer returns a handler serving b to callers that present token.
func NewServer(b backend.Backend, token string, opts ...ServerOption) *Server {
	s := &Server{b: b, token: []byte(token), log: slog.Default(), mux: http.NewServeMux(), heartbeat: DefaultHeartbeat}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("component", "api")
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mux.HandleFunc("GET /v1/status", s.status)
	s.mux.HandleFunc("GET /v1/peers", s.peers)
	s.mux.HandleFunc("GET /v1/groups", s.groups)
	s.mux.HandleFunc("POST /v1/groups", s.createGroup)
	s.mux.HandleFunc("GET /v1/groups/{ref}", s.group)
	s.mux.HandleFunc("POST /v1/join", s.join)
	s.mux.HandleFunc("GET /v1/groups/{ref}/messages", s.history)
	s.mux.HandleFunc("POST /v1/groups/{ref}/messages", s.send)
	s.mux.HandleFunc("GET /v1/events", s.events)
	s.routeMembership()
	s.routeFiles()
	s.routeDM()
	s.routePolls()
	s.routeRich()
	s.routeUX()
	s.routeSearch()
	return s
}

// Close ends open event streams. Call it before http.Server.Shutdown, which
// does not interrupt streaming handlers.
func (s *Server) Close() { s.cancel() }

// ServeHTTP checks the caller (loopback, token) and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isLoopback(r.RemoteAddr) {
		writeError(w, http.StatusForbidden, "the control API only accepts loopback connections")
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	if !hostAllowed(r) {
		// DNS rebinding: a web page whose name resolves to 127.0.0.1 would
		// be same-origin with us; refuse any Host but our loopback address.
		writeError(w, http.StatusMisdirectedRequest, "unexpected Host header: use http://127.0.0.1:PORT")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		// CORS stays closed: no Access-Control-* headers, and cross-origin
		// requests that browsers send anyway (simple POSTs) are refused.
		writeError(w, http.StatusForbidden, "cross-origin requests are refused")
		return
	}
	if s.web != nil && r.URL.Path != "/v1" && !strings.HasPrefix(r.URL.Path, "/v1/") {
		s.web.ServeHTTP(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
		writeError(w, http.StatusUnauthorized, "missing or bad token")
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// No route: the mux's own handler answers 404 or 405 (with Allow);
		// keep its status and headers but answer in JSON.
		rec := &headerRecorder{h: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.h.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := "no such endpoint"
		if rec.code == http.StatusMethodNotAllowed {
			msg = "method not allowed"
		}
		writeError(w, rec.code, msg)
		return
	}
	s.mux.ServeHTTP(w, r) // sets the path values, which Handler does not
}

// headerRecorder captures the status and headers of the mux's 404/405 handler.
type headerRecorder struct {
	h    http.Header
	code int
}

func (r *headerRecorder) Header() http.Header { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return len(b), nil
}
func (r *headerRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || len(s.token) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.token) == 1
}

// hostAllowed reports whether the Host header names this server by a
// loopback name and the port the request arrived on. Requests that did not
// come through a listener (no local address) are not checked.
func hostAllowed(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return true
	}
	_, lport, err := net.SplitHostPort(local.String())
	if err != nil {
		return false
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port != lport {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// writeJSON encodes v before writing the status: a value that cannot be
// encoded (a time past year 9999, say) is a logged 500, never a 200 with
// an empty body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		slog.Error("api: encode response", "err", err)
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error: response could not be encoded"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorResponse{Error: msg})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := StatusFor(err)
	if code >= 500 {
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, code, ErrorResponse{Error: err.Error(), Code: codeFor(err)})
}

// decode reads a bounded JSON body into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: request body: %v", node.ErrInvalidInput, err)
	}
	return nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Status())
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	p := s.b.Peers()
	if p == nil {
		p = []node.PeerInfo{}
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) groups(w http.ResponseWriter, r *http.Request) {
	gs, err := s.b.Groups()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, gs)
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var req CreateGroupRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	gi, err := s.b.CreateGroup(r.Context(), req.Name, req.HistoryFromJoin)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, gi)
}

func (s *Server) group(w http.ResponseWriter, r *http.Request) {
	gi, err := s.b.Group(r.PathValue("ref"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, gi)
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	gi, err := s.b.Join(r.Context(), req.Code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, gi)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	limit := DefaultHistoryLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.fail(w, r, fmt.Errorf("%w: limit %q", node.ErrInvalidInput, v))
			return
		}
		limit = n
	}
	ms, err := s.b.History(r.PathValue("ref"), r.URL.Query().Get("before"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ms == nil {
		ms = []node.Message{}
	}
	writeJSON(w, http.StatusOK, ms)
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	var req SendRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, tooLong(err)) // ux.go: name the limit
		return
	}
	m, err := s.b.SendWith(r.Context(), r.PathValue("ref"), req.Text, node.SendOptions{ReplyTo: req.ReplyTo})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

// events streams node events as Server-Sent Events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	var groupID string
	if ref := r.URL.Query().Get("group"); ref != "" {
		gi, err := s.b.Group(ref)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		groupID = gi.ID
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	ch, stop := s.b.Subscribe()
	defer stop()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A first comment tells the client it is subscribed.
	if _, err := fmt.Fprint(w, ": subscribed\n\n"); err != nil {
		return
	}
	fl.Flush()
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-tick.C:
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			fl.Flush()
		case ev, ok := <-ch:
			if !ok {
				return // node closed
			}
			if groupID != "" && ev.Group != groupID {
				continue
			}
			b, err := json.Marshal(ev)
			if err != nil {
				s.log.Warn("encode event", "err", err)
				continue
			}
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// Serve serves s on ln until ctx ends, then shuts down (closing event
// streams first) within a few seconds.
func Serve(ctx context.Context, ln net.Listener, s *Server) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
