package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley/node/internal/membership"
)

// MemberInfo is one current member of a group as its membership log says.
type MemberInfo struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"` // "owner", "admin" or "member"
	SafetyNumber string    `json:"safety_number"`
	PeerID       string    `json:"peer_id"`
	Self         bool      `json:"self,omitempty"`
	Joined       time.Time `json:"joined"`
}

// InviteInfo is an invite's state as the membership log says.
type InviteInfo struct {
	ID      string    `json:"id"`
	Creator string    `json:"creator"` // peer id
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	MaxUses int       `json:"max_uses"` // 0: unlimited
	Uses    int       `json:"uses"`
	Revoked bool      `json:"revoked,omitempty"`
}

// InviteOptions shape a new invite: Expires 0 means DefaultInviteExpiry,
// Uses 0 means unlimited.
type InviteOptions struct {
	Expires time.Duration
	Uses    int
}

// SafetyNumber is this node's safety number: compare it out of band with
// what others' MemberList shows for us.
func (n *Node) SafetyNumber() string { return membership.SafetyNumber(n.memberKey) }

// memberGroup is a group with a membership log (not legacy).
func (n *Node) memberGroup(ref string) (*group, error) {
	g, err := n.group(ref)
	if err != nil {
		return nil, err
	}
	if g.mem.legacy() {
		return nil, fmt.Errorf("%w: %s", ErrLegacyGroup, g.rec.Name)
	}
	return g, nil
}

// MemberList lists a group's current members, sorted by name.
func (n *Node) MemberList(ref string) ([]MemberInfo, error) {
	g, err := n.memberGroup(ref)
	if err != nil {
		return nil, err
	}
	g.mem.mu.Lock()
	l := g.mem.log
	st := l.State()
	ms := st.Members()
	joined := make([]time.Time, len(ms))
	for i, m := range ms {
		if o, ok := l.Get(m.Added); ok {
			joined[i] = time.UnixMilli(o.Time)
		}
	}
	g.mem.mu.Unlock()
	out := make([]MemberInfo, 0, len(ms))
	for i, m := range ms {
		pid, _ := peerOfKey(m.Key)
		out = append(out, MemberInfo{Name: m.Name, Role: m.Role.String(), SafetyNumber: membership.SafetyNumber(m.Key),
			PeerID: pid.String(), Self: m.Key == n.memberKey, Joined: joined[i]})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || (out[i].Name == out[j].Name && out[i].PeerID < out[j].PeerID)
	})
	return out, nil
}

// Members lists a group's members: from the membership log (so a member
// who never posted shows), or for a legacy group the authors seen.
func (n *Node) Members(ref string) ([]Member, error) {
	g, err := n.group(ref)
	if err != nil || g.mem.legacy() {
		return n.Local.Members(ref)
	}
	ml, err := n.MemberList(ref)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(ml))
	for i, m := range ml {
		out[i] = Member{ID: m.PeerID, Name: m.Name, Self: m.Self}
	}
	return out, nil
}

// findMember resolves a member reference: display name, safety number
// (digits; spaces ignored) or peer id prefix of at least 6 characters.
func findMember(ms []membership.Member, ref string) (membership.Member, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return membership.Member{}, fmt.Errorf("%w: empty member reference", ErrInvalidInput)
	}
	digits := strings.ReplaceAll(ref, " ", "")
	var cands []membership.Member
	for _, m := range ms {
		pid, _ := peerOfKey(m.Key)
		sn := strings.ReplaceAll(membership.SafetyNumber(m.Key), " ", "")
		switch {
		case m.Name == ref, digits == sn, pid.String() == ref, len(ref) >= 6 && strings.HasPrefix(pid.String(), ref):
			cands = append(cands, m)
		}
	}
	switch len(cands) {
	case 0:
		return membership.Member{}, fmt.Errorf("%w: %q", ErrNoSuchMember, ref)
	case 1:
		return cands[0], nil
	}
	names := make([]string, len(cands))
	for i, m := range cands {
		pid, _ := peerOfKey(m.Key)
		names[i] = fmt.Sprintf("%s (%s, %s)", m.Name, pid, membership.SafetyNumber(m.Key))
	}
	sort.Strings(names)
	return membership.Member{}, fmt.Errorf("%w: %q matches %s", ErrAmbiguousMember, ref, strings.Join(names, "; "))
}

// change makes one op with the group's log under its lock (build returns
// it), then stores and publishes it in the epoch current before it.
func (n *Node) change(ref string, build func(l *membership.Log, self membership.Identity, st *membership.State) (*membership.Op, []byte, error)) error {
	g, err := n.memberGroup(ref)
	if err != nil {
		return err
	}
	if err := n.dmRefuseChange(g); err != nil {
		return err
	}
	self, err := n.id.memberIdentity()
	if err != nil {
		return err
	}
	g.mem.mu.Lock()
	st := g.mem.log.State()
	if _, ok := st.Member(self.Key()); !ok {
		g.mem.mu.Unlock()
		return ErrNotGroupMember
	}
	cur := st.Current().ID
	op, secret, err := build(g.mem.log, self, st)
	if err == nil && secret != nil {
		n.keepSecretLocked(g, op.ID(), secret)
	}
	g.mem.mu.Unlock()
	if err != nil {
		return err // membership sentinels (ErrNotAuthorized is node's too)
	}
	if err := n.sendOp(n.ctx, g, op, cur); err != nil {
		return err
	}
	n.react(g)
	n.syncUnadmitted(g) // a member it lists may be connected but unproven (admit.go)
	return nil
}

// RemoveMember removes a member and starts a new key epoch without it: the
// removal goes out under the old epoch, everything after under the new.
func (n *Node) RemoveMember(ctx context.Context, ref, member string) error {
	return n.change(ref, func(l *membership.Log, self membership.Identity, st *membership.State) (*membership.Op, []byte, error) {
		m, err := findMember(st.Members(), member)
		if err != nil {
			return nil, nil, err
		}
		return l.RemoveMember(self, m.Key, n.cfg.now())
	})
}

// Leave leaves a group: a remaining member rotates the key; our history
// stays readable, sending stops.
func (n *Node) Leave(ctx context.Context, ref string) error {
	return n.change(ref, func(l *membership.Log, self membership.Identity, _ *membership.State) (*membership.Op, []byte, error) {
		o, err := l.Leave(self, n.cfg.now())
		return o, nil, err
	})
}

// Promote makes a member an admin.
func (n *Node) Promote(ctx context.Context, ref, member string) error {
	return n.change(ref, func(l *membership.Log, self membership.Identity, st *membership.State) (*membership.Op, []byte, error) {
		m, err := findMember(st.Members(), member)
		if err != nil {
			return nil, nil, err
		}
		o, err := l.Promote(self, m.Key, membership.RoleAdmin, n.cfg.now())
		return o, nil, err
	})
}

// Demote makes an admin a member (owner only).
func (n *Node) Demote(ctx context.Context, ref, member string) error {
	return n.change(ref, func(l *membership.Log, self membership.Identity, st *membership.State) (*membership.Op, []byte, error) {
		m, err := findMember(st.Members(), member)
		if err != nil {
			return nil, nil, err
		}
		o, err := l.Demote(self, m.Key, n.cfg.now())
		return o, nil, err
	})
}

// RenameGroup renames a group (admins, owner).
func (n *Node) RenameGroup(ctx context.Context, ref, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := n.change(ref, func(l *membership.Log, self membership.Identity, _ *membership.State) (*membership.Op, []byte, error) {
		o, err := l.Rename(self, name, n.cfg.now())
		return o, nil, err
	})
	if err != nil {
		return err
	}
	if g, err := n.group(ref); err == nil {
		n.syncGroupName(g)
	}
	return nil
}

// syncGroupName saves the log's group name in the stored group record
// (what group lists show). The open group's rec keeps the name it was
// opened with; membership paths read the name from the log.
func (n *Node) syncGroupName(g *group) {
	g.mem.mu.Lock()
	name := ""
	if g.mem.log != nil {
		name = g.mem.log.State().Name()
	}
	changed := name != "" && name != g.mem.savedName
	if changed {
		g.mem.savedName = name
	}
	g.mem.mu.Unlock()
	if !changed {
		return
	}
	rec, err := n.st.GetGroup(g.rec.ID)
	if err != nil || rec.Name == name {
		return
	}
	rec.Name = name
	if err := n.st.PutGroup(rec); err != nil {
		n.log.Warn("save group name", "err", err)
	}
}

// groupName is the group's current name: the log's, else the record's.
func (g *group) name() string {
	g.mem.mu.Lock()
	defer g.mem.mu.Unlock()
	if g.mem.log != nil {
		return g.mem.log.State().Name()
	}
	return g.rec.Name
}

// SetDisplayName changes our display name: a profile op in every group we
// are a member of, and the profile's saved name.
func (n *Node) SetDisplayName(ctx context.Context, name string) error {
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return err
	}
	if err := n.st.PutSetting(SettingName, []byte(name)); err != nil {
		return err
	}
	n.mu.Lock()
	n.cfg.displayName = name
	n.id.Name = name
	n.mu.Unlock()
	var errs []error
	for _, g := range n.allGroups() {
		if g.mem.legacy() || !g.mem.isMember(n.memberKey) || n.isDM(g) {
			continue
		}
		ref := hex.EncodeToString(g.rec.ID[:])
		err := n.change(ref, func(l *membership.Log, self membership.Identity, _ *membership.State) (*membership.Op, []byte, error) {
			o, err := l.SetProfile(self, memberName(name), n.cfg.now())
			return o, nil, err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g.rec.Name, err))
		}
	}
	return errors.Join(errs...)
}

// CreateInvite registers an invite in the group's log and returns its code.
func (n *Node) CreateInvite(ctx context.Context, ref string, o InviteOptions) (string, InviteInfo, error) {
	if o.Expires < 0 || o.Uses < 0 {
		return "", InviteInfo{}, fmt.Errorf("%w: negative expiry or uses", ErrInvalidInput)
	}
	if o.Expires == 0 {
		o.Expires = DefaultInviteExpiry
	}
	uses := uint32(math.MaxUint32) // "unlimited"
	if o.Uses > 0 {
		uses = uint32(min(o.Uses, math.MaxUint32-1))
	}
	g, err := n.memberGroup(ref)
	if err != nil {
		return "", InviteInfo{}, err
	}
	var secret membership.InviteSecret
	var created *membership.Op
	now := n.cfg.now()
	err = n.change(ref, func(l *membership.Log, self membership.Identity, _ *membership.State) (*membership.Op, []byte, error) {
		op, s, err := l.CreateInvite(self, now.Add(o.Expires), uses, now)
		secret, created = s, op
		return op, nil, err
	})
	if err != nil {
		return "", InviteInfo{}, err
	}
	code, err := n.inviteCode(g, membership.InviteToken{Group: g.mem.groupID(), Secret: secret})
	if err != nil {
		return "", InviteInfo{}, err
	}
	g.mem.mu.Lock()
	inv, _ := g.mem.log.State().Invite(created.InviteID)
	g.mem.mu.Unlock()
	return code, n.inviteInfo(g, inv), nil
}

func (n *Node) inviteInfo(g *group, inv membership.Invite) InviteInfo {
	pid, _ := peerOfKey(inv.Creator)
	info := InviteInfo{ID: inv.ID.String(), Creator: pid.String(), Expires: time.UnixMilli(inv.Expiry),
		Uses: int(inv.Uses), Revoked: inv.Revoked}
	if inv.MaxUses != math.MaxUint32 {
		info.MaxUses = int(inv.MaxUses)
	}
	g.mem.mu.Lock()
	for _, o := range g.mem.log.Ops() {
		if o.Kind == membership.KindInviteCreate && o.InviteID == inv.ID {
			info.Created = time.UnixMilli(o.Time)
			break
		}
	}
	g.mem.mu.Unlock()
	return info
}

// Invites lists a group's invites, newest first.
func (n *Node) Invites(ref string) ([]InviteInfo, error) {
	g, err := n.memberGroup(ref)
	if err != nil {
		return nil, err
	}
	g.mem.mu.Lock()
	st := g.mem.log.State()
	var invs []membership.Invite
	for _, o := range g.mem.log.Ops() {
		if o.Kind == membership.KindInviteCreate {
			if inv, ok := st.Invite(o.InviteID); ok {
				invs = append(invs, inv)
			}
		}
	}
	g.mem.mu.Unlock()
	out := make([]InviteInfo, 0, len(invs))
	for _, inv := range invs {
		out = append(out, n.inviteInfo(g, inv))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// RevokeInvite revokes an invite by id or unique id prefix.
func (n *Node) RevokeInvite(ctx context.Context, ref, inviteID string) error {
	invs, err := n.Invites(ref)
	if err != nil {
		return err
	}
	inviteID = strings.ToLower(strings.TrimSpace(inviteID))
	var match []InviteInfo
	for _, inv := range invs {
		if inviteID != "" && strings.HasPrefix(inv.ID, inviteID) {
			match = append(match, inv)
		}
	}
	switch {
	case len(match) == 0:
		return fmt.Errorf("%w: %q", ErrNoSuchInvite, inviteID)
	case len(match) > 1:
		return fmt.Errorf("%w: invite %q matches %d invites", ErrInvalidInput, inviteID, len(match))
	}
	raw, err := hex.DecodeString(match[0].ID)
	if err != nil {
		return err
	}
	var id membership.InviteID
	copy(id[:], raw)
	return n.change(ref, func(l *membership.Log, self membership.Identity, _ *membership.State) (*membership.Op, []byte, error) {
		o, err := l.RevokeInvite(self, id, n.cfg.now())
		return o, nil, err
	})
}

func (m *gmem) isMember(k membership.Key) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		return false
	}
	_, ok := m.log.State().Member(k)
	return ok
}

func (m *gmem) groupID() membership.GroupID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.Group()
}

// memberName is a display name as membership ops may carry it: printable
// UTF-8 of at most membership's 128 bytes (control characters dropped).
func memberName(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if r < 0x20 || r == 0x7F || r == utf8.RuneError || (r >= 0x80 && r < 0xA0) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxNameLen {
			break
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "anonymous"
	}
	return b.String()
}
