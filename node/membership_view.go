package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/store"
)

// What front ends show of the membership log: the member count and names
// from the signed ops (not from who has posted), and each op as a sentence.

// memberState is the state of a group's stored membership log (no keys:
// reading only); nil for a legacy group.
func (l *Local) memberState(g store.GroupID) *membership.State {
	if log := l.storedLog(g); log != nil {
		return log.State()
	}
	return nil
}

// memberCount is the group's current member count: from the membership
// log, or for a legacy group the authors seen.
func (l *Local) memberCount(g store.GroupID, seen int) int {
	if st := l.memberState(g); st != nil {
		return len(st.Members())
	}
	return seen
}

// opNames adds the display names the membership log knows (set by signed
// profile ops, current and removed members alike) to names.
func (l *Local) opNames(g store.GroupID, names map[peer.ID]string) {
	st := l.memberState(g)
	if st == nil {
		return
	}
	for _, m := range st.Members() {
		if pid, err := peerOfKey(m.Key); err == nil && m.Name != "" {
			names[pid] = m.Name
		}
	}
}

// describeOp says what a membership op did, for history lines: "removed
// Ana", "renamed the group to “trip”". name gives a member's shown name.
func describeOp(o *membership.Op, name func(membership.Key) string) string {
	subject := func() string {
		if name != nil {
			if s := name(o.Subject); s != "" {
				return s
			}
		}
		if o.Name != "" {
			return o.Name
		}
		return membership.SafetyNumber(o.Subject)[:5] + "…"
	}
	switch o.Kind {
	case membership.KindCreate:
		return fmt.Sprintf("created the group “%s”", o.GroupName)
	case membership.KindAdd:
		return "added " + subject()
	case membership.KindJoin:
		return "admitted " + subject() + " with an invite"
	case membership.KindRemove:
		return "removed " + subject()
	case membership.KindLeave:
		return "left the group"
	case membership.KindPromote:
		if o.Role == membership.RoleOwner {
			return "handed ownership to " + subject()
		}
		return "made " + subject() + " an admin"
	case membership.KindDemote:
		return "made " + subject() + " a member"
	case membership.KindRename:
		return fmt.Sprintf("renamed the group to “%s”", o.GroupName)
	case membership.KindProfile:
		return fmt.Sprintf("is now called “%s”", o.Name)
	case membership.KindInviteCreate:
		return "created an invite"
	case membership.KindInviteRevoke:
		return "revoked an invite"
	case membership.KindRotate:
		return "rotated the group key"
	case membership.KindKeyShare:
		return "shared the group key with members who lacked it"
	}
	return o.Kind.String()
}

// namesByKey adapts a peer-id name map for describeOp.
func namesByKey(names map[peer.ID]string) func(membership.Key) string {
	return func(k membership.Key) string {
		pid, err := peerOfKey(k)
		if err != nil {
			return ""
		}
		return names[pid]
	}
}
