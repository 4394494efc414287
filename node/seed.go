package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// seedCommit is how many messages SeedHistory hands the store at once.
const seedCommit = 8192

// SeedHistory writes n text messages by key's identity straight into st, in
// a new group named name, and returns the group's id: a large store for a
// benchmark (parley-bench --search), built in seconds rather than sent one
// by one. The messages are signed in Merkle batches, chained, one second
// apart and ending now; text(i) is message i's text. Nothing goes to the
// network, and the group has no membership log: it can be read and
// searched, not sent to.
func SeedHistory(ctx context.Context, st *store.Store, key crypto.PrivKey, name string, n int, text func(i int) string) (string, error) {
	var g store.GroupID
	secret := make([]byte, 32)
	if _, err := rand.Read(g[:]); err != nil {
		return "", err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	now := time.Now()
	if err := st.PutGroup(store.Group{ID: g, Name: name, Secret: secret, CreatedMs: now.UnixMilli(), JoinedMs: now.UnixMilli()}); err != nil {
		return "", err
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return "", err
	}
	start := now.Add(-time.Duration(n) * time.Second).UnixMilli()
	var parents [][]byte
	pending := make([]store.Message, 0, seedCommit)
	for i := 0; i < n; {
		k := min(envelope.MaxBatchLeaves, n-i)
		ms := make([]*wirepb.Message, k)
		bodies := make([][]byte, k)
		ids := make([]store.MessageID, k)
		for j := range k {
			seq := uint64(i + j + 1)
			var prev []byte // the one parent is also the author's previous message
			if len(parents) > 0 {
				prev = parents[0]
			}
			ms[j] = &wirepb.Message{Version: WireVersion, GroupId: g[:], Author: pub, Seq: seq, Lamport: seq,
				TimestampMs: start + int64(i+j)*1000, Parents: parents, Prev: prev,
				Body: &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: text(i + j)}}}}
			if bodies[j], err = envelope.MarshalMessage(ms[j]); err != nil {
				return "", err
			}
			ids[j] = envelope.MessageID(bodies[j])
			parents = [][]byte{ids[j][:]}
		}
		vs, err := envelope.SignBodies(key, ms, bodies, ids)
		if err != nil {
			return "", err
		}
		for _, v := range vs {
			pending = append(pending, v.StoreMessage(g))
		}
		i += k
		if len(pending) >= seedCommit || i == n {
			if _, err := st.AppendReceived(ctx, pending...); err != nil {
				return "", fmt.Errorf("seed: %w", err)
			}
			pending = pending[:0]
		}
	}
	return hex.EncodeToString(g[:]), nil
}
