package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/parley-chat/parley/node"
)

// routeMembership adds the member, role, invite and name endpoints.
func (s *Server) routeMembership() {
	s.mux.HandleFunc("GET /v1/groups/{ref}/members", s.members)
	s.mux.HandleFunc("DELETE /v1/groups/{ref}/members/{member}", s.removeMember)
	s.mux.HandleFunc("POST /v1/groups/{ref}/members/{member}/promote", s.promote)
	s.mux.HandleFunc("POST /v1/groups/{ref}/members/{member}/demote", s.demote)
	s.mux.HandleFunc("POST /v1/groups/{ref}/leave", s.leave)
	s.mux.HandleFunc("POST /v1/groups/{ref}/rename", s.rename)
	s.mux.HandleFunc("POST /v1/groups/{ref}/invite", s.invite)
	s.mux.HandleFunc("GET /v1/groups/{ref}/invites", s.invites)
	s.mux.HandleFunc("DELETE /v1/groups/{ref}/invites/{id}", s.revokeInvite)
	s.mux.HandleFunc("GET /v1/profile", s.profile)
	s.mux.HandleFunc("POST /v1/profile/name", s.setName)
}

// members lists members with roles and safety numbers, or, for a group
// without roles, as before (id, name, self).
func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	out := []Member{}
	ms, err := s.b.MemberList(ref)
	if errors.Is(err, node.ErrLegacyGroup) {
		old, err := s.b.Members(ref)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, m := range old {
			out = append(out, MemberFromLegacy(m))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, m := range ms {
		out = append(out, MemberFromNode(m))
	}
	writeJSON(w, http.StatusOK, out)
}

// done answers a change that has nothing to return.
func (s *Server) done(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.b.RemoveMember(r.Context(), r.PathValue("ref"), r.PathValue("member")))
}

func (s *Server) promote(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.b.Promote(r.Context(), r.PathValue("ref"), r.PathValue("member")))
}

func (s *Server) demote(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.b.Demote(r.Context(), r.PathValue("ref"), r.PathValue("member")))
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.b.Leave(r.Context(), r.PathValue("ref")))
}

func (s *Server) rename(w http.ResponseWriter, r *http.Request) {
	var req NameRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, s.b.RenameGroup(r.Context(), r.PathValue("ref"), req.Name))
}

func (s *Server) setName(w http.ResponseWriter, r *http.Request) {
	var req NameRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, s.b.SetDisplayName(r.Context(), req.Name))
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Profile{ID: s.b.Status().ID, SafetyNumber: s.b.SafetyNumber()})
}

// invite makes a plain invite (no body) or a tracked one with limits.
func (s *Server) invite(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	req, ok, err := optionalInviteRequest(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		code, err := s.b.Invite(ref)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, InviteResponse{Code: code})
		return
	}
	if req.ExpiresSeconds < 0 || req.Uses < 0 {
		s.fail(w, r, fmt.Errorf("%w: negative expiry or uses", node.ErrInvalidInput))
		return
	}
	o := node.InviteOptions{Expires: time.Duration(req.ExpiresSeconds) * time.Second, Uses: req.Uses}
	code, info, err := s.b.CreateInvite(r.Context(), ref, o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inv := InviteFromNode(info)
	writeJSON(w, http.StatusOK, InviteResponse{Code: code, Invite: &inv})
}

// optionalInviteRequest decodes the invite body; ok is false when there is
// none (an empty or blank body).
func optionalInviteRequest(w http.ResponseWriter, r *http.Request) (req InviteRequest, ok bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return req, false, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return req, false, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return req, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, false, fmt.Errorf("%w: request body: %v", node.ErrInvalidInput, err)
	}
	return req, true, nil
}

func (s *Server) invites(w http.ResponseWriter, r *http.Request) {
	is, err := s.b.Invites(r.PathValue("ref"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]Invite, 0, len(is))
	for _, i := range is {
		out = append(out, InviteFromNode(i))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) revokeInvite(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.b.RevokeInvite(r.Context(), r.PathValue("ref"), r.PathValue("id")))
}
