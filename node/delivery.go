package node

// Delivery state from receipts. Each node tells a group, at most every
// receipt interval and only when it has stored something new from others
// since its last receipt (and what it holds changed), which seqs of every
// author it holds without a gap (Body.receipt; with read receipts on, also
// the last message it has read). Receipts are messages of the group's
// history, so they travel by gossip and sync like text, but History and the
// message events never show them. The node keeps the latest receipt of each
// member in memory, read back from the store on first use, and counts for
// each of its own messages how many current members hold (and have read) it.

import (
	"context"
	"encoding/hex"
	"maps"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// DefaultReceiptInterval is the shortest time between two receipts of one
// node to one group.
const DefaultReceiptInterval = 3 * time.Second

// EventDelivery says a group's delivery state changed (a member's receipt
// arrived): front ends refresh the delivery of the own messages they show.
const EventDelivery = "delivery"

// Delivery states of own messages. A front end shows its own not-yet-stored
// sends as "queued"; the node only reports stored messages.
const (
	DeliverySent   = "sent"   // stored here and published
	DeliveryStored = "stored" // every current member holds it
)

// receiptFullRate is the group size up to which each member may send a
// receipt every receipt interval. A receipt lists every author and reaches
// every member, so a fixed interval made a group's receipt traffic grow with
// the square of its size (at 50 members and 100 texts/s, one delivery in
// six was a receipt of about 2 KB). Above it, a member's interval grows with
// the group, so the whole group sends about receiptFullRate receipts per
// interval.
const receiptFullRate = 10

// receiptScanBack bounds how far back, per member, the latest receipt is
// looked for in the store when a group's receipts are first needed.
const receiptScanBack = 256

// readReceiptsSetting is the profile setting that turns read receipts on.
const readReceiptsSetting = "read-receipts"

// Delivery is the delivery state of one of my messages.
type Delivery struct {
	State    string `json:"state"`     // DeliverySent or DeliveryStored
	StoredBy int    `json:"stored_by"` // current members holding it, me included
	Members  int    `json:"members"`   // current members, me included
	ReadBy   int    `json:"read_by"`   // other members whose read receipt covers it (read receipts on)
}

// memberReceipt is the latest receipt of one member.
type memberReceipt struct {
	seq         uint64 // the receipt message's seq: a later one replaces it
	stored      map[peer.ID]uint64
	readLamport uint64 // clock of the message read up to (0: none)
}

// groupReceipts is what the node knows and has said in one group.
type groupReceipts struct {
	loaded   bool
	members  map[peer.ID]*memberReceipt
	dirty    bool // stored something from others since the last receipt
	sentAt   time.Time
	lastSent map[peer.ID]uint64
	lastRead []byte
}

type receiptBook struct {
	mu     sync.Mutex
	groups map[store.GroupID]*groupReceipts
}

// bookLocked returns g's receipts, reading the latest of each member from
// the store the first time. Callers hold b.mu.
func (n *Node) bookLocked(g store.GroupID) *groupReceipts {
	b := &n.receipts
	if b.groups == nil {
		b.groups = map[store.GroupID]*groupReceipts{}
	}
	gr := b.groups[g]
	if gr == nil {
		gr = &groupReceipts{members: map[peer.ID]*memberReceipt{}, dirty: true}
		b.groups[g] = gr
	}
	if gr.loaded {
		return gr
	}
	gr.loaded = true
	ranges, err := n.st.VectorRanges(g)
	if err != nil {
		n.log.Warn("read receipts", "err", err)
		return gr
	}
	for _, r := range ranges {
		author := peer.ID(r.Author)
		for seq := r.Max; seq > 0 && r.Max-seq < receiptScanBack; seq-- {
			id, ok, err := n.st.AtSeq(g, r.Author, seq)
			if err != nil || !ok {
				continue
			}
			s, err := n.st.Get(g, id)
			if err != nil {
				continue
			}
			v, err := envelope.DecodeSigned(s.Raw)
			if err != nil {
				continue
			}
			if rc := v.Msg.Body.GetReceipt(); rc != nil {
				n.noteReceiptLocked(g, gr, author, v.Msg.Seq, rc)
				break
			}
		}
	}
	return gr
}

// noteReceiptLocked records a member's receipt if it is its latest.
func (n *Node) noteReceiptLocked(g store.GroupID, gr *groupReceipts, author peer.ID, seq uint64, rc *wirepb.Receipt) {
	if author == n.self {
		gr.lastSent = map[peer.ID]uint64{}
		for _, as := range rc.Stored {
			gr.lastSent[peer.ID(as.Author)] = as.Seq
		}
		gr.lastRead = rc.ReadUpTo
		return
	}
	if old := gr.members[author]; old != nil && old.seq >= seq {
		return
	}
	mr := &memberReceipt{seq: seq, stored: make(map[peer.ID]uint64, len(rc.Stored))}
	for _, as := range rc.Stored {
		mr.stored[peer.ID(as.Author)] = as.Seq
	}
	if len(rc.ReadUpTo) == store.MessageIDLen {
		var id store.MessageID
		copy(id[:], rc.ReadUpTo)
		if lam, ok, err := n.st.Lamport(g, id); err == nil && ok {
			mr.readLamport = lam
		}
	}
	gr.members[author] = mr
}

// noteStored is called for every newly stored message from others: a
// receipt is recorded, anything else makes a receipt due. It reports
// whether v is a receipt (no message event for it).
func (n *Node) noteStored(g *group, v *envelope.Verified) bool {
	rc := v.Msg.Body.GetReceipt()
	if v.Author == n.self {
		return rc != nil
	}
	n.receipts.mu.Lock()
	gr := n.bookLocked(g.rec.ID)
	if rc == nil {
		gr.dirty = true
	} else {
		n.noteReceiptLocked(g.rec.ID, gr, v.Author, v.Msg.Seq, rc)
	}
	n.receipts.mu.Unlock()
	if rc != nil {
		n.events.publish(Event{Type: EventDelivery, Group: hex.EncodeToString(g.rec.ID[:])})
	}
	return rc != nil
}

// receiptLoop sends the receipts that are due, every receipt interval.
func (n *Node) receiptLoop() {
	if n.cfg.receiptEvery <= 0 {
		return
	}
	t := time.NewTicker(n.cfg.receiptEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		for _, g := range n.allGroups() {
			n.sendReceipt(g)
		}
	}
}

// sendReceipt sends g a receipt if one is due and what it says changed.
func (n *Node) sendReceipt(g *group) {
	if g.mem.legacy() {
		return
	}
	every := n.receiptSpacing(g)
	n.receipts.mu.Lock()
	gr := n.bookLocked(g.rec.ID)
	if every > n.cfg.receiptEvery && n.cfg.now().Sub(gr.sentAt) < every {
		n.receipts.mu.Unlock()
		return // stays dirty: a later tick sends it
	}
	due := gr.dirty
	gr.dirty = false
	lastSent, lastRead := gr.lastSent, gr.lastRead
	n.receipts.mu.Unlock()
	if !due {
		return
	}
	vec, err := n.st.Vector(g.rec.ID)
	if err != nil {
		n.log.Warn("receipt: read vector", "err", err)
		return
	}
	rc := &wirepb.Receipt{}
	now := map[peer.ID]uint64{}
	for _, as := range vec {
		if peer.ID(as.Author) == n.self || as.Seq == 0 {
			continue // others know what we sent
		}
		now[peer.ID(as.Author)] = as.Seq
		rc.Stored = append(rc.Stored, &wirepb.AuthorSeq{Author: as.Author, Seq: as.Seq})
	}
	if n.ReadReceipts() {
		if p := n.readPosition(g.rec.ID); p != nil {
			rc.ReadUpTo = append([]byte(nil), p.last.ID[:]...)
		}
	}
	if len(rc.Stored) == 0 || (maps.Equal(now, lastSent) && string(rc.ReadUpTo) == string(lastRead)) {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	if _, err := n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Receipt{Receipt: rc}}); err != nil {
		n.log.Debug("send receipt", "err", err)
		n.receipts.mu.Lock()
		gr.dirty = true // try again next time
		n.receipts.mu.Unlock()
		return
	}
	n.receipts.mu.Lock()
	gr.lastSent, gr.lastRead, gr.sentAt = now, rc.ReadUpTo, n.cfg.now()
	n.receipts.mu.Unlock()
}

// receiptSpacing is the shortest time between two of our receipts to g:
// the receipt interval, stretched in proportion above receiptFullRate
// members.
func (n *Node) receiptSpacing(g *group) time.Duration {
	g.membersMu.Lock()
	members := len(g.members)
	g.membersMu.Unlock()
	if members <= receiptFullRate {
		return n.cfg.receiptEvery
	}
	return n.cfg.receiptEvery * time.Duration(members) / receiptFullRate
}

// readMoved makes a receipt due when read receipts are on.
func (n *Node) readMoved(g store.GroupID) {
	if !n.ReadReceipts() {
		return
	}
	n.receipts.mu.Lock()
	n.bookLocked(g).dirty = true
	n.receipts.mu.Unlock()
}

// knownSeqs is, per author, the highest seq some member's receipt says it
// holds without a gap.
func (n *Node) knownSeqs(g store.GroupID) map[peer.ID]uint64 {
	n.receipts.mu.Lock()
	defer n.receipts.mu.Unlock()
	out := map[peer.ID]uint64{}
	for _, mr := range n.bookLocked(g).members {
		for a, s := range mr.stored {
			out[a] = max(out[a], s)
		}
	}
	return out
}

// decorateDelivery fills the delivery state of my messages among ms.
func (n *Node) decorateDelivery(g store.GroupID, ms []Message) {
	self := n.self.String()
	var members []Member
	for i := range ms {
		m := &ms[i]
		if m.Author != self || hiddenKind(m.Kind) {
			continue
		}
		if members == nil {
			var err error
			if members, err = n.Members(hex.EncodeToString(g[:])); err != nil || len(members) == 0 {
				return
			}
		}
		d := n.delivery(g, members, m.Seq, m.Lamport)
		m.Delivery = &d
	}
}

func (n *Node) delivery(g store.GroupID, members []Member, seq, lamport uint64) Delivery {
	n.receipts.mu.Lock()
	defer n.receipts.mu.Unlock()
	gr := n.bookLocked(g)
	d := Delivery{State: DeliverySent, Members: len(members)}
	for _, mb := range members {
		if mb.Self {
			d.StoredBy++
			continue
		}
		mr := gr.members[peer.ID(mustPeer(mb.ID))]
		if mr == nil {
			continue
		}
		if mr.stored[n.self] >= seq {
			d.StoredBy++
		}
		if mr.readLamport >= lamport {
			d.ReadBy++
		}
	}
	if d.StoredBy >= d.Members {
		d.State = DeliveryStored
	}
	return d
}

func mustPeer(s string) peer.ID {
	id, err := peer.Decode(s)
	if err != nil {
		return ""
	}
	return id
}

// Delivery returns the delivery state of my messages among ids (hex
// message ids of group ref; others' and unknown ids are left out).
func (n *Node) Delivery(ref string, ids []string) (map[string]Delivery, error) {
	g, err := n.group(ref)
	if err != nil {
		return nil, err
	}
	if len(ids) > 1000 {
		return nil, ErrInvalidInput
	}
	members, err := n.Members(hex.EncodeToString(g.rec.ID[:]))
	if err != nil {
		return nil, err
	}
	out := map[string]Delivery{}
	for _, s := range ids {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != store.MessageIDLen {
			continue
		}
		var id store.MessageID
		copy(id[:], b)
		st, err := n.st.Get(g.rec.ID, id)
		if err != nil {
			continue
		}
		v, err := envelope.DecodeSigned(st.Raw)
		if err != nil || v.Author != n.self {
			continue
		}
		out[s] = n.delivery(g.rec.ID, members, v.Msg.Seq, v.Msg.Lamport)
	}
	return out, nil
}

// ReadReceipts reports whether this profile tells groups what it has read.
func (l *Local) ReadReceipts() bool {
	v, err := l.st.Setting(readReceiptsSetting)
	return err == nil && string(v) == "on"
}

// SetReadReceipts turns read receipts on or off (default off).
func (l *Local) SetReadReceipts(on bool) error {
	v := "off"
	if on {
		v = "on"
	}
	return l.st.PutSetting(readReceiptsSetting, []byte(v))
}
