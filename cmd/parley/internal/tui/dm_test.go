package tui

import (
	"context"
	"testing"

	"github.com/parley-chat/parley/node"
)

// The test fake's direct-message part: calls are recorded like membership's.

func (f *fake) dmCall(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.callErr
}

func (f *fake) ContactCode(addrs bool) (string, error) {
	return "parleyc1code", f.dmCall("contact-code")
}
func (f *fake) AddContact(_ context.Context, code, name string) (node.Contact, error) {
	return node.Contact{Name: name}, f.dmCall("contact-add " + code)
}
func (f *fake) AddContactFromMember(_ context.Context, g, m, name string) (node.Contact, error) {
	return node.Contact{Name: m}, f.dmCall("contact-add-member " + g + " " + m)
}
func (f *fake) Contacts() ([]node.Contact, error) { return nil, f.dmCall("contacts") }
func (f *fake) BlockContact(_ context.Context, ref string, blocked bool) (node.Contact, error) {
	return node.Contact{Name: ref, Blocked: blocked}, f.dmCall("block " + ref)
}
func (f *fake) OpenDM(_ context.Context, ref string) (node.GroupInfo, error) {
	return node.GroupInfo{}, f.dmCall("dm-open " + ref)
}
func (f *fake) SendDM(_ context.Context, ref, text string) (node.Message, error) {
	return node.Message{Text: text}, f.dmCall("dm " + ref + " " + text)
}

func TestDMLabel(t *testing.T) {
	if groupLabel(node.GroupInfo{Name: "ana", Kind: "dm"}) != "@ana" || groupLabel(node.GroupInfo{Name: "club"}) != "club" {
		t.Fatal("labels")
	}
}
