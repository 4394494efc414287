package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley/node"
)

// FileSendRequest sends a file the node can read at Path (the CLI on the
// same machine; the path must be absolute).
type FileSendRequest struct {
	Path string `json:"path"`
}

// FileSaveRequest saves a complete file to Path on the node's machine.
type FileSaveRequest struct {
	Path string `json:"path"`
}

// routeFiles adds the file endpoints (docs/api.md).
func (s *Server) routeFiles() {
	s.mux.HandleFunc("GET /v1/groups/{ref}/files", s.listFiles)
	s.mux.HandleFunc("POST /v1/groups/{ref}/files", s.sendFile)
	s.mux.HandleFunc("POST /v1/groups/{ref}/files/upload", s.uploadFile)
	s.mux.HandleFunc("GET /v1/groups/{ref}/files/{id}", s.getFile)
	s.mux.HandleFunc("POST /v1/groups/{ref}/files/{id}/fetch", s.fetchFile)
	s.mux.HandleFunc("POST /v1/groups/{ref}/files/{id}/save", s.saveFile)
	s.mux.HandleFunc("GET /v1/groups/{ref}/files/{id}/content", s.fileContent)
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	fs, err := s.b.Files(r.PathValue("ref"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if fs == nil {
		fs = []node.FileInfo{}
	}
	writeJSON(w, http.StatusOK, fs)
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
	fi, err := s.findFile(r.PathValue("ref"), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, fi)
}

func (s *Server) findFile(ref, id string) (node.FileInfo, error) {
	fs, err := s.b.Files(ref)
	if err != nil {
		return node.FileInfo{}, err
	}
	var match []node.FileInfo
	for _, f := range fs {
		if f.ID == id || len(id) >= 6 && strings.HasPrefix(f.ID, strings.ToLower(id)) {
			match = append(match, f)
		}
	}
	if len(match) != 1 {
		return node.FileInfo{}, fmt.Errorf("%w: %q", node.ErrNoSuchFile, id)
	}
	return match[0], nil
}

func (s *Server) sendFile(w http.ResponseWriter, r *http.Request) {
	var req FileSendRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if !filepath.IsAbs(req.Path) {
		s.fail(w, r, fmt.Errorf("%w: the path must be absolute", node.ErrInvalidInput))
		return
	}
	m, err := s.b.SendFile(r.Context(), r.PathValue("ref"), req.Path)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

// uploadFile takes the file's bytes as the body (the web chat), streamed
// into the node's file store chunk by chunk; ?name= names it and the
// Content-Length is required.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	if name == "" {
		s.fail(w, r, fmt.Errorf("%w: ?name= is required", node.ErrInvalidInput))
		return
	}
	if r.ContentLength < 0 {
		writeError(w, http.StatusLengthRequired, "an upload needs a Content-Length")
		return
	}
	m, err := s.b.SendFileReader(r.Context(), r.PathValue("ref"), name, r.ContentLength, r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

// fetchFile starts a fetch; with ?wait=1 it answers when the file is
// complete (or fails). Progress is on the event stream (type "file").
func (s *Server) fetchFile(w http.ResponseWriter, r *http.Request) {
	ref, id := r.PathValue("ref"), r.PathValue("id")
	if r.URL.Query().Get("wait") == "1" {
		if err := s.b.FetchFile(r.Context(), ref, id); err != nil {
			s.fail(w, r, err)
			return
		}
	} else {
		// Bounded: an error found at once (no such file, over the limit)
		// is answered; otherwise the fetch runs on in the node.
		ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
		err := s.b.FetchFile(ctx, ref, id)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.fail(w, r, err)
			return
		}
	}
	s.getFile(w, r)
}

func (s *Server) saveFile(w http.ResponseWriter, r *http.Request) {
	var req FileSaveRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if !filepath.IsAbs(req.Path) {
		s.fail(w, r, fmt.Errorf("%w: the path must be absolute", node.ErrInvalidInput))
		return
	}
	s.done(w, r, s.b.SaveFile(r.PathValue("ref"), r.PathValue("id"), req.Path))
}

// fileContent streams a complete file, with Range support; ?download=1
// asks the browser to save it rather than show it.
func (s *Server) fileContent(w http.ResponseWriter, r *http.Request) {
	fi, rs, err := s.b.OpenFile(r.PathValue("ref"), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ct := fi.Mime
	if ct == "" || !inlineSafe(ct) {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	// Whatever the announced type, never run it as a page of ours.
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; media-src 'self'")
	disp := "inline"
	if r.URL.Query().Get("download") == "1" || ct == "application/octet-stream" {
		disp = "attachment"
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": fi.Name}))
	http.ServeContent(w, r, "", fi.Time, rs)
}

// inlineSafe: types a browser may show inline from our origin (pictures,
// audio, video, plain text); anything else is offered as a download.
func inlineSafe(ct string) bool {
	switch {
	case ct == "image/svg+xml":
		return false // scripts
	case strings.HasPrefix(ct, "image/"), strings.HasPrefix(ct, "audio/"), strings.HasPrefix(ct, "video/"), ct == "text/plain", strings.HasPrefix(ct, "text/plain;"):
		return true
	}
	return false
}
