package backend

import (
	"context"

	"github.com/parley-chat/parley/node"
)

// Backend is what a front end needs from a running node.
type Backend interface {
	Status() node.Status
	Peers() []node.PeerInfo
	Groups() ([]node.GroupInfo, error)
	Group(ref string) (node.GroupInfo, error)
	Members(ref string) ([]node.Member, error)
	History(ref, before string, limit int) ([]node.Message, error)
	Send(ctx context.Context, ref, text string) (node.Message, error)
	CreateGroup(ctx context.Context, name string, historyFromJoin bool) (node.GroupInfo, error)
	Join(ctx context.Context, code string) (node.GroupInfo, error)
	Invite(ref string) (string, error)
	Subscribe() (<-chan node.Event, func())
}

var _ Backend = (*node.Node)(nil)
