package node

import (
	"context"
	"crypto/ecdh"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/node/internal/dmproto"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/internal/reach"
	"github.com/parley-chat/parley/store"
)

// Contacts: people known directly, from a contact code or a shared group,
// each with at most one direct-message conversation (dm.go).

// Errors of contacts and direct messages.
var (
	ErrBadContactCode = errors.New("invalid contact code")
	ErrNoSuchContact  = errors.New("no such contact")
	// ErrAmbiguousContact: a contact reference matches several contacts.
	ErrAmbiguousContact = errors.New("ambiguous contact")
	// ErrBlocked: the contact is blocked (unblock it first).
	ErrBlocked = errors.New("contact is blocked")
	// ErrSelfContact: one's own code or member.
	ErrSelfContact = errors.New("that is you")
	// ErrDMChange: a direct message has exactly its two members; no
	// invites, member, role or name changes.
	ErrDMChange = errors.New("not possible in a direct message")
)

// Contact is a person this profile knows directly.
type Contact struct {
	Name         string    `json:"name"`
	PeerID       string    `json:"peer_id"`
	SafetyNumber string    `json:"safety_number"`
	Blocked      bool      `json:"blocked"`
	DM           string    `json:"dm,omitempty"` // the conversation's group id, once there is one
	Added        time.Time `json:"added"`
}

func contactInfo(c store.Contact) Contact {
	out := Contact{Name: c.Name, Blocked: c.Blocked, Added: time.UnixMilli(c.AddedMs)}
	if id, err := peer.IDFromBytes(c.Peer); err == nil {
		out.PeerID = id.String()
		if k, err := memberKeyOfPeer(id); err == nil {
			out.SafetyNumber = membership.SafetyNumber(k)
		}
	}
	if c.Pair != (store.GroupID{}) {
		out.DM = hex.EncodeToString(c.Pair[:])
	}
	return out
}

// Contacts lists the contacts, sorted by name.
func (l *Local) Contacts() ([]Contact, error) {
	cs, err := l.st.Contacts()
	if err != nil {
		return nil, err
	}
	out := make([]Contact, 0, len(cs))
	for _, c := range cs {
		out = append(out, contactInfo(c))
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || (out[i].Name == out[j].Name && out[i].PeerID < out[j].PeerID)
	})
	return out, nil
}

// ContactCode is a short code others add us with (AddContact): our peer
// id, display name and HPKE key, and with addrs our current addresses.
func (n *Node) ContactCode(addrs bool) (string, error) {
	c := &dmproto.ContactCode{Peer: []byte(n.self), Name: memberName(n.displayName()), HpkeKey: membership.HPKEPublic(n.id.currentHPKE())}
	if addrs {
		c.Addrs = n.ownAddrs()
	}
	return dmproto.EncodeCode(c)
}

// ownAddrs is our listen addresses, relay circuits first, capped for codes.
func (n *Node) ownAddrs() [][]byte {
	h := n.Host()
	if h == nil {
		return nil
	}
	as := h.ListenAddrs()
	slices.SortStableFunc(as, func(a, b ma.Multiaddr) int { return reach.CmpBool(reach.IsCircuit(b), reach.IsCircuit(a)) })
	var out [][]byte
	for _, a := range as {
		if len(out) == dmproto.MaxCodeAddrs {
			break
		}
		if b := a.Bytes(); len(b) <= dmproto.MaxAddrLen {
			out = append(out, b)
		}
	}
	return out
}

// AddContact stores the contact a code names (name overrides the code's).
// Adding a known contact again updates its addresses and, if given, name.
func (n *Node) AddContact(ctx context.Context, code, name string) (Contact, error) {
	cc, err := dmproto.DecodeCode(code)
	if err != nil {
		return Contact{}, fmt.Errorf("%w: %v", ErrBadContactCode, err)
	}
	id, err := peer.IDFromBytes(cc.Peer)
	if err != nil {
		return Contact{}, fmt.Errorf("%w: peer id: %v", ErrBadContactCode, err)
	}
	if _, err := memberKeyOfPeer(id); err != nil {
		return Contact{}, fmt.Errorf("%w: not an Ed25519 identity", ErrBadContactCode)
	}
	if _, err := ecdh.X25519().NewPublicKey(cc.HpkeKey); err != nil {
		return Contact{}, fmt.Errorf("%w: key: %v", ErrBadContactCode, err)
	}
	if name == "" {
		name = cc.Name
	}
	return n.keepContact(id, name, cc.HpkeKey, cc.Addrs)
}

// AddContactFromMember stores a member of a shared group as a contact.
func (n *Node) AddContactFromMember(ctx context.Context, group, member, name string) (Contact, error) {
	g, err := n.memberGroup(group)
	if err != nil {
		return Contact{}, err
	}
	g.mem.mu.Lock()
	m, err := findMember(g.mem.log.State().Members(), member)
	g.mem.mu.Unlock()
	if err != nil {
		return Contact{}, err
	}
	id, err := peerOfKey(m.Key)
	if err != nil {
		return Contact{}, err
	}
	if name == "" {
		name = m.Name
	}
	var addrs [][]byte
	if h := n.Host(); h != nil {
		for _, a := range h.PeerAddrs(id) {
			if len(addrs) < dmproto.MaxCodeAddrs {
				addrs = append(addrs, a.Bytes())
			}
		}
	}
	return n.keepContact(id, name, m.HPKE, addrs)
}

// keepContact creates or updates a contact record.
func (n *Node) keepContact(id peer.ID, name string, hpkeKey []byte, addrs [][]byte) (Contact, error) {
	if id == n.self {
		return Contact{}, ErrSelfContact
	}
	name = memberName(name)
	n.dm.mu.Lock()
	defer n.dm.mu.Unlock()
	c, err := n.st.GetContact([]byte(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		c = store.Contact{Peer: []byte(id), AddedMs: n.cfg.now().UnixMilli()}
	case err != nil:
		return Contact{}, err
	}
	if c.Name == "" || name != "anonymous" {
		c.Name = name
	}
	if len(hpkeKey) > 0 {
		c.Key = slices.Clone(hpkeKey)
	}
	if len(addrs) > 0 {
		c.Addrs = addrs
	}
	if err := n.st.PutContact(c); err != nil {
		return Contact{}, err
	}
	if n.reach != nil && len(c.Addrs) > 0 {
		n.reach.Remember(addrInfoOf(id, c.Addrs))
	}
	return contactInfo(c), nil
}

func addrInfoOf(id peer.ID, raw [][]byte) peer.AddrInfo {
	ai := peer.AddrInfo{ID: id}
	for _, b := range raw {
		if a, err := ma.NewMultiaddrBytes(b); err == nil {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	return ai
}

// findContact resolves a contact reference: name, safety number (digits;
// spaces ignored) or peer id prefix of at least 6 characters.
func (l *Local) findContact(ref string) (store.Contact, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return store.Contact{}, fmt.Errorf("%w: empty contact reference", ErrInvalidInput)
	}
	cs, err := l.st.Contacts()
	if err != nil {
		return store.Contact{}, err
	}
	digits := strings.ReplaceAll(ref, " ", "")
	var byName, other []store.Contact
	for _, c := range cs {
		ci := contactInfo(c)
		switch {
		case c.Name == ref:
			byName = append(byName, c)
		case digits == strings.ReplaceAll(ci.SafetyNumber, " ", ""), ci.PeerID == ref,
			len(ref) >= 6 && strings.HasPrefix(ci.PeerID, ref):
			other = append(other, c)
		}
	}
	cands := byName
	if len(cands) == 0 {
		cands = other
	}
	switch len(cands) {
	case 0:
		return store.Contact{}, fmt.Errorf("%w: %q", ErrNoSuchContact, ref)
	case 1:
		return cands[0], nil
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		ci := contactInfo(c)
		names[i] = fmt.Sprintf("%s (%s, %s)", ci.Name, ci.PeerID, ci.SafetyNumber)
	}
	sort.Strings(names)
	return store.Contact{}, fmt.Errorf("%w: %q matches %s", ErrAmbiguousContact, ref, strings.Join(names, "; "))
}

// Contact describes one contact.
func (l *Local) Contact(ref string) (Contact, error) {
	c, err := l.findContact(ref)
	if err != nil {
		return Contact{}, err
	}
	return contactInfo(c), nil
}

// BlockContact blocks (or unblocks) a contact: its offers are refused, its
// messages in the conversation are neither stored nor shown, and nothing is
// sent to it.
func (n *Node) BlockContact(ctx context.Context, ref string, blocked bool) (Contact, error) {
	n.dm.mu.Lock()
	c, err := n.findContact(ref)
	if err == nil {
		c.Blocked = blocked
		err = n.st.PutContact(c)
	}
	n.dm.mu.Unlock()
	if err != nil {
		return Contact{}, err
	}
	id, _ := peer.IDFromBytes(c.Peer)
	n.dm.setBlocked(id, blocked)
	if !blocked {
		n.dmKick() // an offer held back by the block may go now
		for _, g := range n.allGroups() {
			if p, ok := n.dm.peerOf(g.rec.ID); ok && p == id {
				n.sync.Request(id, g.sync)
			}
		}
	}
	return contactInfo(c), nil
}
