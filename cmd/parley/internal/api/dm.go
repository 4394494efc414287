package api

import (
	"fmt"
	"net/http"

	"github.com/parley-chat/parley/node"
)

// Direct messages: contacts, conversations and blocks.

// ContactRequest adds a contact: from Code, or from Member of Group.
type ContactRequest struct {
	Code   string `json:"code,omitempty"`
	Group  string `json:"group,omitempty"`
	Member string `json:"member,omitempty"`
	Name   string `json:"name,omitempty"` // overrides the code's or member's name
}

// ContactCodeResponse is our contact code.
type ContactCodeResponse struct {
	Code string `json:"code"`
}

func init() {
	nodeErrors = append(nodeErrors, []struct {
		err    error
		code   string
		status int
	}{
		{node.ErrBadContactCode, "bad_contact_code", http.StatusBadRequest},
		{node.ErrNoSuchContact, "no_such_contact", http.StatusNotFound},
		{node.ErrAmbiguousContact, "ambiguous_contact", http.StatusConflict},
		{node.ErrBlocked, "blocked", http.StatusForbidden},
		{node.ErrSelfContact, "self_contact", http.StatusBadRequest},
		{node.ErrDMChange, "dm_change", http.StatusConflict},
	}...)
}

// routeDM adds the contact and direct-message endpoints.
func (s *Server) routeDM() {
	s.mux.HandleFunc("GET /v1/contacts", s.contacts)
	s.mux.HandleFunc("POST /v1/contacts", s.addContact)
	s.mux.HandleFunc("GET /v1/contacts/code", s.contactCode)
	s.mux.HandleFunc("POST /v1/contacts/{ref}/block", func(w http.ResponseWriter, r *http.Request) { s.block(w, r, true) })
	s.mux.HandleFunc("POST /v1/contacts/{ref}/unblock", func(w http.ResponseWriter, r *http.Request) { s.block(w, r, false) })
	s.mux.HandleFunc("POST /v1/dm/{ref}", s.openDM)
	s.mux.HandleFunc("POST /v1/dm/{ref}/messages", s.sendDM)
}

func (s *Server) contacts(w http.ResponseWriter, r *http.Request) {
	cs, err := s.b.Contacts()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cs == nil {
		cs = []node.Contact{}
	}
	writeJSON(w, http.StatusOK, cs)
}

func (s *Server) addContact(w http.ResponseWriter, r *http.Request) {
	var req ContactRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	var c node.Contact
	var err error
	switch {
	case req.Code != "" && req.Member == "":
		c, err = s.b.AddContact(r.Context(), req.Code, req.Name)
	case req.Code == "" && req.Member != "" && req.Group != "":
		c, err = s.b.AddContactFromMember(r.Context(), req.Group, req.Member, req.Name)
	default:
		err = fmt.Errorf("%w: give a contact code, or a group and a member", node.ErrInvalidInput)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// contactCode answers our code; ?addrs=0 leaves the addresses out.
func (s *Server) contactCode(w http.ResponseWriter, r *http.Request) {
	code, err := s.b.ContactCode(r.URL.Query().Get("addrs") != "0")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ContactCodeResponse{Code: code})
}

func (s *Server) block(w http.ResponseWriter, r *http.Request, blocked bool) {
	c, err := s.b.BlockContact(r.Context(), r.PathValue("ref"), blocked)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) openDM(w http.ResponseWriter, r *http.Request) {
	gi, err := s.b.OpenDM(r.Context(), r.PathValue("ref"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, gi)
}

func (s *Server) sendDM(w http.ResponseWriter, r *http.Request) {
	var req SendRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.b.SendDM(r.Context(), r.PathValue("ref"), req.Text)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}
