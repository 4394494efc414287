package envelope

import (
	"fmt"

	"github.com/parley-chat/parley/store"
)

// ErrCausality is a message whose Lamport clock is not above a parent's: it
// breaks the ordering rule, so only a misbehaving member sends it.
var ErrCausality = fmt.Errorf("%w: lamport not above a parent's", ErrBadField)

// LamportOf looks up a held message's clock; held is false when we lack it.
type LamportOf func(id store.MessageID) (lamport uint64, held bool, err error)

// CheckCausality keeps, in order, the messages whose clock is above that of
// every parent held (by lookup, or kept earlier in vs); bad counts the
// others (ErrCausality). gap reports whether any parent is missing (to fill
// by sync). A lookup error counts as missing.
func CheckCausality(vs []*Verified, lookup LamportOf) (kept []*Verified, gap bool, bad int) {
	inBatch := make(map[store.MessageID]uint64, len(vs))
	kept = vs[:0:0]
	for _, v := range vs {
		ok := true
		for _, p := range v.Msg.Parents {
			var id store.MessageID
			copy(id[:], p)
			lam, held := inBatch[id]
			if !held {
				var err error
				if lam, held, err = lookup(id); err != nil {
					held = false
				}
			}
			if !held {
				gap = true
				continue
			}
			if lam >= v.Msg.Lamport {
				ok = false
				break
			}
		}
		if !ok {
			bad++
			continue
		}
		inBatch[v.ID] = v.Msg.Lamport
		kept = append(kept, v)
	}
	return kept, gap, bad
}
