package backendtest

import (
	"context"

	"github.com/parley-chat/parley/node"
)

// The fake's contacts: one, "carol", with conversation DMID.

// DMID is the fake conversation's group id.
const DMID = "dd00000000000000000000000000000d"

func (f *Fake) ContactCode(addrs bool) (string, error) {
	if err := f.call("contact-code %v", addrs); err != nil {
		return "", err
	}
	if addrs {
		return "parleyc1fakewithaddrs", nil
	}
	return "parleyc1fake", nil
}

func fakeContact(name string) node.Contact {
	return node.Contact{Name: name, PeerID: "12D3KooWCarolCarolCarol", SafetyNumber: "77777 88888 99999", DM: DMID}
}

func (f *Fake) AddContact(_ context.Context, code, name string) (node.Contact, error) {
	return fakeContact(name), f.call("contact-add %s %s", code, name)
}

func (f *Fake) AddContactFromMember(_ context.Context, group, member, name string) (node.Contact, error) {
	return fakeContact(member), f.call("contact-add-member %s %s %s", group, member, name)
}

func (f *Fake) Contacts() ([]node.Contact, error) {
	return []node.Contact{fakeContact("carol")}, f.call("contacts")
}

func (f *Fake) BlockContact(_ context.Context, ref string, blocked bool) (node.Contact, error) {
	c := fakeContact(ref)
	c.Blocked = blocked
	return c, f.call("block %s %v", ref, blocked)
}

func (f *Fake) OpenDM(_ context.Context, ref string) (node.GroupInfo, error) {
	return node.GroupInfo{ID: DMID, Name: ref, Kind: "dm", Members: 2}, f.call("dm-open %s", ref)
}

func (f *Fake) SendDM(_ context.Context, ref, text string) (node.Message, error) {
	return node.Message{ID: "m1", Group: DMID, Text: text, Kind: "text"}, f.call("dm %s %s", ref, text)
}
