// Package backendtest has a fake backend.Backend for tests of the front
// ends and the API: it records membership calls and answers with canned
// members, invites and errors. Methods it does not fake panic (the embedded
// nil Backend).
package backendtest
