package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/parley-chat/parley/cmd/parley/internal/backend/backendtest"
	"github.com/parley-chat/parley/node"
)

// Every direct-message endpoint reaches the backend with its arguments, and
// the client turns the node's errors back into its sentinels.
func TestDMEndpoints(t *testing.T) {
	f, c, ts := fakeServer(t)
	ctx := context.Background()
	if code, err := c.ContactCode(ctx, false); err != nil || code != "parleyc1fake" {
		t.Fatalf("code %q %v", code, err)
	}
	if code, err := c.ContactCode(ctx, true); err != nil || code != "parleyc1fakewithaddrs" {
		t.Fatalf("code %q %v", code, err)
	}
	if ct, err := c.AddContact(ctx, ContactRequest{Code: "parleyc1x", Name: "carol"}); err != nil || ct.Name != "carol" {
		t.Fatalf("add %+v %v", ct, err)
	}
	if _, err := c.AddContact(ctx, ContactRequest{Group: "Club", Member: "ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddContact(ctx, ContactRequest{}); !errors.Is(err, node.ErrInvalidInput) {
		t.Fatalf("empty add: %v", err)
	}
	if cs, err := c.Contacts(ctx); err != nil || len(cs) != 1 || cs[0].DM != backendtest.DMID {
		t.Fatalf("contacts %+v %v", cs, err)
	}
	if ct, err := c.BlockContact(ctx, "carol", true); err != nil || !ct.Blocked {
		t.Fatalf("block %+v %v", ct, err)
	}
	if _, err := c.BlockContact(ctx, "carol", false); err != nil {
		t.Fatal(err)
	}
	if gi, err := c.OpenDM(ctx, "carol"); err != nil || gi.Kind != "dm" {
		t.Fatalf("open %+v %v", gi, err)
	}
	if m, err := c.SendDM(ctx, "carol", "hi there"); err != nil || m.Text != "hi there" {
		t.Fatalf("send %+v %v", m, err)
	}
	want := []string{"contact-code false", "contact-code true", "contact-add parleyc1x carol", "contact-add-member Club ana ",
		"contacts", "block carol true", "block carol false", "dm-open carol", "dm carol hi there"}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls\n got %q\nwant %q", got, want)
	}
	for _, e := range []error{node.ErrNoSuchContact, node.ErrAmbiguousContact, node.ErrBlocked, node.ErrBadContactCode, node.ErrDMChange, node.ErrSelfContact} {
		f.Err = fmt.Errorf("wrapped: %w", e)
		if _, err := c.SendDM(ctx, "x", "y"); !errors.Is(err, e) {
			t.Errorf("%v came back as %v", e, err)
		}
	}
	if code, _ := raw(t, ts, "GET", "/v1/contacts", ""); code != 400 { // self_contact
		t.Fatalf("fake error status %d", code)
	}
}
