package tui

// Node events (messages, peers, sync progress, group changes), the refresh
// tick and the answers to sends.

import (
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/node"
)

func (m *Model) waitEvents() tea.Cmd {
	ch := m.events
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsMsg{closed: true}
		}
		evs := []node.Event{ev}
		for len(evs) < maxEventBatch {
			select {
			case ev, ok := <-ch:
				if !ok {
					return eventsMsg{evs: evs, closed: true}
				}
				evs = append(evs, ev)
			default:
				return eventsMsg{evs: evs}
			}
		}
		return eventsMsg{evs: evs}
	}
}

func (m *Model) tickCmd() tea.Cmd {
	if !m.tick {
		return nil
	}
	return tea.Tick(refreshEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *Model) onEvents(evs []node.Event) tea.Cmd {
	var cmds []tea.Cmd
	refresh := false
	joins := map[string]bool{} // groups whose member count changed
	for _, ev := range evs {
		if m.onPollEvent(ev) {
			continue
		}
		switch ev.Type {
		case node.EventDelivery:
			cmds = append(cmds, m.refreshDelivery(ev.Group))
		case node.EventMessage:
			if ev.Message != nil {
				m.onMessage(*ev.Message)
				if ev.Message.Kind == "join" {
					joins[ev.Message.Group] = true
				}
			}
		case node.EventUpdate:
			if ev.Message != nil {
				m.onUpdate(*ev.Message)
			}
		case node.EventPeer:
			if ev.Peer == nil {
				continue
			}
			if ev.Peer.Connected {
				m.peers[ev.Peer.ID] = true
				m.clearQueued()
			} else {
				delete(m.peers, ev.Peer.ID)
				for k, sp := range m.syncs {
					if sp.Peer == ev.Peer.ID {
						delete(m.syncs, k)
					}
				}
			}
		case node.EventSync:
			if ev.Sync == nil {
				continue
			}
			sp := *ev.Sync
			k := sp.Peer + "|" + sp.Group
			if sp.Done {
				delete(m.syncs, k)
				// A peer outside the group refusing is routine (every group is
				// tried with every peer); other failures are worth a note.
				if sp.Err != "" && m.peers[sp.Peer] && !strings.Contains(sp.Err, node.ErrSyncDenied.Error()) {
					m.setNotice("sync of %s with %s failed: %s", m.groupName(sp.Group), shortID(sp.Peer), sp.Err)
				}
			} else {
				m.syncs[k] = sp
			}
		case node.EventGroup:
			refresh = true
		case node.EventFile:
			m.onFile(ev.File) // files.go
		}
	}
	be := m.be
	for id := range joins {
		if refresh {
			break
		}
		cmds = append(cmds, func() tea.Msg {
			gi, err := be.Group(id)
			if err != nil {
				return nil
			}
			return groupInfoMsg{info: gi}
		})
	}
	for _, g := range m.groups {
		g.trim()
	}
	if refresh {
		cmds = append(cmds, func() tea.Msg {
			gs, err := be.Groups()
			return groupsMsg{groups: gs, err: err}
		})
	}
	cmds = append(cmds, m.maybeLoadOlder())
	return tea.Batch(cmds...)
}

func (m *Model) clearQueued() {
	for _, g := range m.groups {
		for _, e := range g.entries {
			if e.queued {
				e.queued = false
				e.cached = nil
			}
		}
	}
}

func (m *Model) onMessage(msg node.Message) {
	g := m.groupByID(msg.Group)
	if g == nil {
		// A group we do not list yet (joined elsewhere): the group event
		// refreshes the list; history loads when it is opened.
		return
	}
	if g.ids[msg.ID] {
		return
	}
	own := msg.Author == m.self
	g.info.Messages++
	if g.info.Last == nil || !less(msg, *g.info.Last) {
		mm := msg
		g.info.Last = &mm
	}
	if !g.loaded {
		if !own && g != m.current() {
			countUnread(g, msg)
		}
		return // loads with the newest page
	}
	if !g.atStart {
		if o := g.oldestStored(); o != nil && less(msg, o.msg) {
			return // older than the loaded window: paging will find it
		}
	}
	g.ids[msg.ID] = true
	e := &entry{msg: msg, own: own}
	if own {
		// Our send, announced before Send returned: it replaces its
		// pending line (the same text, first pending first).
		for i, p := range g.entries {
			if p.pid != 0 && p.failed == "" && p.msg.Text == msg.Text {
				e.queued = p.queued
				g.entries = append(g.entries[:i], g.entries[i+1:]...)
				break
			}
		}
	}
	g.insert(e)
	if g.scroll > 0 {
		g.scroll += len(m.entryLines(g, indexOf(g.entries, e)))
		g.newBelow++
	}
	if !own && g != m.current() {
		countUnread(g, msg)
	}
}

func indexOf(es []*entry, e *entry) int {
	for i := len(es) - 1; i >= 0; i-- {
		if es[i] == e {
			return i
		}
	}
	return -1
}

func (m *Model) onSent(s sentMsg) {
	g := m.groupByID(s.group)
	if g == nil {
		return
	}
	for i, e := range g.entries {
		if e.pid != s.pid {
			continue
		}
		if s.err != nil {
			e.failed = s.err.Error()
			e.cached = nil
			m.setErr(s.err)
			return
		}
		queued := e.queued
		g.entries = append(g.entries[:i], g.entries[i+1:]...)
		if !g.ids[s.msg.ID] {
			g.ids[s.msg.ID] = true
			g.insert(&entry{msg: s.msg, own: true, queued: queued})
		} else if queued {
			for _, e := range g.entries {
				if e.msg.ID == s.msg.ID {
					e.queued, e.cached = true, nil
				}
			}
		}
		return
	}
}
