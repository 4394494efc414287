package api

import (
	"net/http"

	"github.com/parley-chat/parley/node"
)

// Poll requests (docs/api.md, "Polls"). Choices are 0-based.
type (
	// CreatePollRequest is the body of POST /v1/groups/{ref}/polls.
	CreatePollRequest struct {
		Question  string   `json:"question"`
		Options   []string `json:"options"`
		Multi     bool     `json:"multi,omitempty"`
		Anonymous bool     `json:"anonymous,omitempty"`
	}
	// VoteRequest is the body of POST /v1/groups/{ref}/polls/{poll}/vote:
	// the whole vote (an empty list withdraws it).
	VoteRequest struct {
		Choices []int `json:"choices"`
	}
)

func init() {
	nodeErrors = append(nodeErrors, []struct {
		err    error
		code   string
		status int
	}{
		{node.ErrNoSuchPoll, "no_such_poll", http.StatusNotFound},
		{node.ErrAmbiguousPoll, "ambiguous_poll", http.StatusConflict},
		{node.ErrPollClosed, "poll_closed", http.StatusConflict},
		{node.ErrPollDeleted, "poll_deleted", http.StatusGone},
	}...)
}

// routePolls adds the poll endpoints.
func (s *Server) routePolls() {
	s.mux.HandleFunc("POST /v1/groups/{ref}/polls", s.createPoll)
	s.mux.HandleFunc("GET /v1/groups/{ref}/polls/{poll}", s.poll)
	s.mux.HandleFunc("POST /v1/groups/{ref}/polls/{poll}/vote", s.vote)
	s.mux.HandleFunc("POST /v1/groups/{ref}/polls/{poll}/close", s.closePoll)
}

func (s *Server) createPoll(w http.ResponseWriter, r *http.Request) {
	var req CreatePollRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.b.CreatePoll(r.Context(), r.PathValue("ref"), req.Question, req.Options, req.Multi, req.Anonymous)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// pollAfter answers with the poll's tally (after a change, err nil).
func (s *Server) pollAfter(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.b.Poll(r.PathValue("ref"), r.PathValue("poll"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) poll(w http.ResponseWriter, r *http.Request) { s.pollAfter(w, r, nil) }

func (s *Server) vote(w http.ResponseWriter, r *http.Request) {
	var req VoteRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.pollAfter(w, r, s.b.Vote(r.Context(), r.PathValue("ref"), r.PathValue("poll"), req.Choices))
}

func (s *Server) closePoll(w http.ResponseWriter, r *http.Request) {
	s.pollAfter(w, r, s.b.ClosePoll(r.Context(), r.PathValue("ref"), r.PathValue("poll")))
}
