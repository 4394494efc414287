package node

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/store"
)

// CopyHistory copies every message of a group from src into dst (what dst
// already holds is skipped) and returns how many it added. It is a
// benchmark's shortcut (parley-bench --catchup): a history written offline
// by several authors reaches the node that will serve it without those
// authors syncing each other's share. The messages are trusted as src
// holds them (src's node verified or wrote them); nothing is checked again.
func CopyHistory(ctx context.Context, dst, src *store.Store, group string) (int, error) {
	raw, err := hex.DecodeString(group)
	if err != nil || len(raw) != store.GroupIDLen {
		return 0, fmt.Errorf("%w: group id", ErrGroupNotFound)
	}
	g := store.GroupID(raw)
	added := 0
	pending := make([]store.Message, 0, seedCommit)
	flush := func() error {
		ins, err := dst.AppendReceived(ctx, pending...)
		for _, ok := range ins {
			if ok {
				added++
			}
		}
		pending = pending[:0]
		return err
	}
	var ferr error
	err = src.After(g, nil, func(m store.Stored) bool {
		if m.Erased {
			return true
		}
		v, err := envelope.DecodeSigned(m.Raw)
		if err != nil {
			ferr = err
			return false
		}
		pending = append(pending, v.StoreMessage(g))
		if len(pending) == seedCommit {
			ferr = flush()
		}
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err == nil && len(pending) > 0 {
		err = flush()
	}
	return added, err
}
