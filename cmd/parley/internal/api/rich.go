package api

import (
	"net/http"
)

// ReactRequest is the body of POST .../messages/{id}/reactions.
type ReactRequest struct {
	Emoji  string `json:"emoji"`
	Remove bool   `json:"remove,omitempty"`
}

// EditRequest is the body of POST .../messages/{id}/edit.
type EditRequest struct {
	Text string `json:"text"`
}

// routeRich adds the reply, reaction, edit and delete endpoints (replies go
// through POST .../messages with reply_to).
func (s *Server) routeRich() {
	s.mux.HandleFunc("GET /v1/groups/{ref}/messages/{id}", s.message)
	s.mux.HandleFunc("POST /v1/groups/{ref}/messages/{id}/reactions", s.react)
	s.mux.HandleFunc("POST /v1/groups/{ref}/messages/{id}/edit", s.edit)
	s.mux.HandleFunc("DELETE /v1/groups/{ref}/messages/{id}", s.deleteMessage)
}

func (s *Server) message(w http.ResponseWriter, r *http.Request) {
	m, err := s.b.Message(r.PathValue("ref"), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) react(w http.ResponseWriter, r *http.Request) {
	var req ReactRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, s.b.React(r.Context(), r.PathValue("ref"), r.PathValue("id"), req.Emoji, req.Remove))
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request) {
	var req EditRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, s.b.Edit(r.Context(), r.PathValue("ref"), r.PathValue("id"), req.Text))
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.b.Delete(r.Context(), r.PathValue("ref"), r.PathValue("id")))
}
