package envelope

import (
	"crypto/ed25519"
	"sort"
)

// Author chains: a message names its author's previous message (seq-1) by
// id in Message.prev. The id is a SHA-256 of that message's bytes, author,
// group and seq included, and prev is itself signed as part of the message,
// so a checked signature on message n authenticates message n-1's bytes,
// and so on down the chain. In a sync page, then, only the newest message
// of each author's run needs its signature checked.
//
// Vouching never crosses authors: j vouches for i only if both carry the
// same author key bytes, j.seq == i.seq+1 and j.prev == id(i). A member
// who forges a message "by" another author can name it as prev only from
// a message signed by that author, which it cannot make. A message that no
// accepted message vouches for has its own signature checked, as before.

type sigState uint8

const (
	sigUnknown sigState = iota
	sigOK               // signature checked, or vouched for by an accepted message
	sigBad              // refused (errs says why)
)

// chains is the vouching graph of one page.
type chains struct {
	vouchers [][]int // vouchers[i]: the indexes that may vouch for i
	order    []int   // prepared indexes by (author, seq descending): vouchers first
}

func newChains(ps []*pending) *chains {
	c := &chains{vouchers: make([][]int, len(ps))}
	// A repeated id is vouched for at its first place only (the others are
	// checked alone), so the graph has at most one edge per message.
	byID := make(map[[32]byte]int, len(ps))
	for i, p := range ps {
		if p == nil {
			continue
		}
		if _, dup := byID[p.id]; !dup {
			byID[p.id] = i
		}
		c.order = append(c.order, i)
	}
	for j, pj := range ps {
		if pj == nil || len(pj.m.Prev) == 0 {
			continue
		}
		i, ok := byID[[32]byte(pj.m.Prev)]
		if !ok {
			continue
		}
		// A vouched message still carries a signature of the right size
		// (stored and served on, it is checked alone elsewhere).
		pi := ps[i]
		if pj.m.Seq == pi.m.Seq+1 && string(pj.m.Author) == string(pi.m.Author) && len(pi.sm.Signature) == ed25519.SignatureSize {
			c.vouchers[i] = append(c.vouchers[i], j)
		}
	}
	sort.Slice(c.order, func(a, b int) bool {
		pa, pb := ps[c.order[a]], ps[c.order[b]]
		if sa, sb := string(pa.m.Author), string(pb.m.Author); sa != sb {
			return sa < sb
		}
		return pa.m.Seq > pb.m.Seq
	})
	return c
}

// unvouched lists the undecided messages that nothing undecided or
// accepted can vouch for: their own signature decides.
func (c *chains) unvouched(state []sigState) []int {
	var need []int
	for _, i := range c.order {
		if state[i] != sigUnknown {
			continue
		}
		alone := true
		for _, j := range c.vouchers[i] {
			if state[j] != sigBad {
				alone = false
				break
			}
		}
		if alone {
			need = append(need, i)
		}
	}
	return need
}

// propagate accepts every undecided message that an accepted one vouches
// for, down whole chains in one pass: a voucher has the higher seq, so it
// comes first in order.
func (c *chains) propagate(state []sigState) {
	for _, i := range c.order {
		if state[i] != sigUnknown {
			continue
		}
		for _, j := range c.vouchers[i] {
			if state[j] == sigOK {
				state[i] = sigOK
				break
			}
		}
	}
}
