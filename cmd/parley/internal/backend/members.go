package backend

import (
	"errors"

	"github.com/parley-chat/parley/node"
)

// MemberRows lists a group's members with roles and safety numbers, or, for
// a group made before roles (node.ErrLegacyGroup), its members without them.
func MemberRows(b Backend, ref string) ([]node.MemberInfo, error) {
	ms, err := b.MemberList(ref)
	if !errors.Is(err, node.ErrLegacyGroup) {
		return ms, err
	}
	old, err := b.Members(ref)
	if err != nil {
		return nil, err
	}
	out := make([]node.MemberInfo, 0, len(old))
	for _, m := range old {
		out = append(out, node.MemberInfo{Name: m.Name, PeerID: m.ID, Self: m.Self})
	}
	return out, nil
}
