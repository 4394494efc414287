package api

import (
	"errors"
	"net/http"

	"github.com/parley-chat/parley/node"
)

// nodeErrors maps the node's sentinel errors to an error code carried in
// ErrorResponse.Code and an HTTP status. The client turns the code back
// into the sentinel (Error.Unwrap), so callers can use errors.Is across the
// API. Order matters: the first match wins.
var nodeErrors = []struct {
	err    error
	code   string
	status int
}{
	{node.ErrAmbiguousMember, "ambiguous_member", http.StatusConflict},
	{node.ErrNoSuchMember, "no_such_member", http.StatusNotFound},
	{node.ErrNotAuthorized, "not_authorized", http.StatusForbidden},
	{node.ErrLegacyGroup, "legacy_group", http.StatusConflict},
	{node.ErrBadInvite, "bad_invite", http.StatusBadRequest},
	{node.ErrMessageNotFound, "message_not_found", http.StatusNotFound},
	{node.ErrNotAllowed, "not_allowed", http.StatusForbidden},
	{node.ErrDeleted, "message_deleted", http.StatusConflict},
	{node.ErrAmbiguous, "ambiguous_group", http.StatusBadRequest},
	{node.ErrGroupNotFound, "group_not_found", http.StatusNotFound},
	{node.ErrNoSuchFile, "no_such_file", http.StatusNotFound},
	{node.ErrFileIncomplete, "file_incomplete", http.StatusConflict},
	{node.ErrFileLimit, "file_limit", http.StatusInsufficientStorage},
	{node.ErrFileCorrupt, "file_corrupt", http.StatusUnprocessableEntity},
	{node.ErrNoFileStore, "no_file_store", http.StatusConflict},
	{node.ErrMessageNotHeld, "message_not_held", http.StatusNotFound},
	{node.ErrInvalidInput, "invalid_input", http.StatusBadRequest},
	{node.ErrClosed, "closed", http.StatusServiceUnavailable},
	{node.ErrDiskFull, "disk_full", http.StatusInsufficientStorage},
}

// StatusFor maps a node error to an HTTP status.
func StatusFor(err error) int {
	for _, e := range nodeErrors {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// codeFor is err's error code, or "" for an error without one.
func codeFor(err error) string {
	for _, e := range nodeErrors {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return ""
}

// sentinelFor is the node error a code stands for, or nil.
func sentinelFor(code string) error {
	for _, e := range nodeErrors {
		if e.code == code {
			return e.err
		}
	}
	return nil
}
