package tui

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/node"
)

// The fake's UX part: read marks, last open, mutes and delivery.
type fakeUX struct {
	reads    []string
	lastOpen string
	delivery map[string]node.Delivery
}

func (f *fake) ux() *fakeUX {
	if f.uxState == nil {
		f.uxState = &fakeUX{}
	}
	return f.uxState
}

func (f *fake) MarkRead(ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.find(ref)
	if err != nil {
		return err
	}
	g.info.Unread, g.info.Mentions = 0, 0
	f.ux().reads = append(f.ux().reads, ref)
	f.ux().lastOpen = g.info.ID
	return nil
}
func (f *fake) LastOpen() string { f.mu.Lock(); defer f.mu.Unlock(); return f.ux().lastOpen }
func (f *fake) SetMuted(ref string, muted bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.find(ref)
	if err == nil {
		g.info.Muted = muted
	}
	return err
}
func (f *fake) Delivery(ref string, ids []string) (map[string]node.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]node.Delivery{}
	for _, id := range ids {
		if d, ok := f.ux().delivery[id]; ok {
			out[id] = d
		}
	}
	return out, nil
}
func (f *fake) Missing(ref string) ([]node.MissingInfo, error) { return nil, nil }
func (f *fake) ReadReceipts() bool                             { return false }
func (f *fake) SetReadReceipts(bool) error                     { return nil }

func TestUnreadFromNodeLastOpenAndMarkRead(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 3)
	w := f.addGroup("bb", "Work", 5)
	w.info.Unread, w.info.Mentions = 4, 1
	q := f.addGroup("cc", "Quiet", 2)
	q.info.Unread, q.info.Muted = 2, true
	f.ux().lastOpen = "aa"
	m := start(t, f, 80, 24)
	v := checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "# Family") {
		t.Fatalf("last open group not current:\n%s", v)
	}
	if !regexpLine(v, " Work ", "@4") || !regexpLine(v, " Quiet ", "2") {
		t.Errorf("kept unread counts not shown:\n%s", v)
	}
	if len(f.ux().reads) == 0 || f.ux().reads[0] != "aa" {
		t.Errorf("opening marked %v read, want aa", f.ux().reads)
	}
	typeLine(t, m, "/switch Work")
	v = checkFrame(t, m, 80, 24)
	if regexpLine(v, " Work ", "@4") {
		t.Errorf("count stays after opening Work:\n%s", v)
	}
	if r := f.ux().reads; r[len(r)-1] != "bb" || f.LastOpen() != "bb" {
		t.Errorf("reads %v, last open %q", r, f.LastOpen())
	}
}

func TestDeliveryMarksAndMissingNotice(t *testing.T) {
	f := newFake()
	g := f.addGroup("aa", "Family", 3) // message 1 is mine (selfID)
	g.info.Missing = []node.MissingInfo{{Author: "12D3KooWAna", Name: "Ana\x1b[2J", Count: 3}}
	own := g.msgs[0].ID
	f.ux().delivery = map[string]node.Delivery{own: {State: node.DeliverySent, StoredBy: 2, Members: 3}}
	m := start(t, f, 100, 24)
	drive(t, m, tickMsg{})
	v := checkFrame(t, m, 100, 24)
	if !strings.Contains(v, "message 1 ✓ 2/3") {
		t.Errorf("no 2/3 mark:\n%s", v)
	}
	if !strings.Contains(v, "3 messages from Ana") || !strings.Contains(v, "not yet received") || strings.Contains(v, "\x1b[2J") {
		t.Errorf("no (clean) missing notice:\n%s", v)
	}
	f.ux().delivery[own] = node.Delivery{State: node.DeliveryStored, StoredBy: 3, Members: 3, ReadBy: 2}
	drive(t, m, eventsMsg{evs: []node.Event{{Type: node.EventDelivery, Group: "aa"}}})
	v = checkFrame(t, m, 100, 24)
	if !strings.Contains(v, "message 1 ✓✓ read by 2") {
		t.Errorf("no ✓✓ mark:\n%s", v)
	}
}
