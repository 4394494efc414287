package envelope

import (
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/store"
)

// Bounds on what a member may claim in a message's clock and timestamp
// (docs/sync.md, "Bounds"). They are checked against what the receiver
// holds, so they live here rather than in CheckFields.
const (
	// LamportStep is how far a message's Lamport clock may run ahead of
	// everything the receiver can relate it to: the highest clock among its
	// held parents and the highest clock the receiver holds in the group.
	// An honest clock is the sender's highest held clock + 1, so it exceeds
	// the receiver's view only by the messages the receiver lacks; a
	// poisoner gains at most LamportStep per message, so reaching MaxLamport
	// (2^62) would take 2^42 accepted messages.
	LamportStep = 1 << 20
	// MinTimestampMs (2000-01-01 UTC) is before any Parley message: an
	// earlier timestamp is no real clock's reading, however wrong.
	MinTimestampMs = 946_684_800_000
	// MaxAheadMs is how far past the receiver's clock a timestamp may be.
	// A year is far beyond any clock error seen in practice (hours, days, a
	// wrong year setting is refused), and keeps every accepted time
	// representable (JSON, RFC 3339: years 0000-9999).
	MaxAheadMs = 366 * 24 * 3600 * 1000
	// MaxTimestampMs (9999-12-31 UTC, the last instant JSON and RFC 3339
	// can write) caps the range whatever the receiver's clock says.
	MaxTimestampMs = 253_402_300_799_999
	// ClockFloorMs (2026-01-01 UTC) is the earliest "now" the receiver
	// assumes: a device whose clock reset to 1970 must not refuse every
	// honest message as "from the future".
	ClockFloorMs = 1_767_225_600_000
	// DoubtfulAhead is how far ahead of the receiver's clock a timestamp is
	// shown as doubtful (Message.TimeDoubtful); ordering never uses it.
	DoubtfulAhead = 10 * time.Minute
)

// Reasons CheckBounds refuses a message; each is its own drop counter.
var (
	// ErrLamportJump: the clock runs more than LamportStep past every
	// parent, all of which the receiver holds, and past its whole view.
	ErrLamportJump = errors.New("lamport-jump")
	// ErrLamportAhead: as ErrLamportJump, but a parent is missing (or
	// there is none), so the receiver may just be behind: the message is
	// deferred, not stored now, and sync brings it again after its parents.
	ErrLamportAhead = errors.New("lamport-ahead")
	ErrBadTimestamp = errors.New("bad-timestamp")
	// ErrEquivocation: the author already has another message with this seq.
	ErrEquivocation = errors.New("equivocation")
)

// SeqConflict reports whether a message other than m is held at m's
// author's seq (an equivocation if so).
type SeqConflict func(m *Verified) (conflict bool, err error)

// View is what the receiver knows when it checks a batch of messages.
type View struct {
	Lamport LamportOf // a held message's clock
	Known   uint64    // the highest clock held in the group
	NowMs   int64     // the receiver's clock
	// Conflict, when set, finds equivocations against held messages.
	Conflict SeqConflict
}

// Refusal is one message CheckBounds refused and why.
type Refusal struct {
	V   *Verified
	Err error
}

// Checked is CheckBounds' verdict on a batch.
type Checked struct {
	Kept    []*Verified // in input order
	Gap     bool        // a kept message names a parent not held
	Refused []Refusal   // in input order; ErrLamportAhead ones are deferred
}

// Deferred reports whether every refusal is a deferral (no misbehaviour).
func (c *Checked) Deferred() bool { return c.Misbehaviour() == nil }

// Misbehaviour is the first refusal that is not a deferral, or nil.
func (c *Checked) Misbehaviour() error {
	for _, r := range c.Refused {
		if !errors.Is(r.Err, ErrLamportAhead) {
			return r.Err
		}
	}
	return nil
}

// TimestampOK reports whether a timestamp is one some real clock could show.
func TimestampOK(ts, nowMs int64) bool {
	upper := min(max(nowMs, ClockFloorMs), MaxTimestampMs) + MaxAheadMs
	return ts >= MinTimestampMs && ts <= min(upper, MaxTimestampMs)
}

// TimeDoubtful reports whether ts is further ahead of now than clocks drift.
func TimeDoubtful(ts int64, now time.Time) bool {
	return ts > now.Add(DoubtfulAhead).UnixMilli()
}

// CheckBounds runs, in order, the checks that need the receiver's state:
// timestamp range, causality (a clock above every held parent's), the
// Lamport step bound and, if v.Conflict is set, equivocation. Messages
// earlier in vs count as held for later ones.
func CheckBounds(vs []*Verified, v View) Checked {
	var out Checked
	inBatch := make(map[store.MessageID]uint64, len(vs))
	type authorSeq struct {
		a   peer.ID
		seq uint64
	}
	seqs := make(map[authorSeq]store.MessageID, len(vs))
	known := v.Known
	out.Kept = vs[:0:0]
	for _, m := range vs {
		err := checkOne(m, &v, known, inBatch, &out.Gap)
		if id, ok := seqs[authorSeq{m.Author, m.Msg.Seq}]; err == nil && ok && id != m.ID {
			err = ErrEquivocation
		}
		if err != nil {
			out.Refused = append(out.Refused, Refusal{m, err})
			continue
		}
		seqs[authorSeq{m.Author, m.Msg.Seq}] = m.ID
		inBatch[m.ID] = m.Msg.Lamport
		known = max(known, m.Msg.Lamport)
		out.Kept = append(out.Kept, m)
	}
	return out
}

func checkOne(m *Verified, v *View, known uint64, inBatch map[store.MessageID]uint64, gap *bool) error {
	if !TimestampOK(m.Msg.TimestampMs, v.NowMs) {
		return ErrBadTimestamp
	}
	var maxParent uint64
	missing := len(m.Msg.Parents) == 0
	localGap := false
	for _, p := range m.Msg.Parents {
		var id store.MessageID
		copy(id[:], p)
		lam, held := inBatch[id]
		if !held {
			var err error
			if lam, held, err = v.Lamport(id); err != nil {
				held = false
			}
		}
		if !held {
			missing, localGap = true, true
			continue
		}
		if lam >= m.Msg.Lamport {
			return ErrCausality
		}
		maxParent = max(maxParent, lam)
	}
	if m.Msg.Lamport > max(maxParent, known)+LamportStep {
		if missing {
			return ErrLamportAhead
		}
		return ErrLamportJump
	}
	if v.Conflict != nil {
		conflict, err := v.Conflict(m)
		if err == nil && conflict {
			return ErrEquivocation
		}
	}
	*gap = *gap || localGap
	return nil
}
