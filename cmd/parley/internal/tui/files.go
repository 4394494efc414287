package tui

// Files in the full-screen chat: a file message is one line with its name,
// size and local state or progress; /file PATH sends one
// (chatcmd.FileFront); fetch progress shows in the status line.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.FileFront = (*front)(nil)

// fileStates is the latest fetch state per file message id, from events
// (read and written on the update loop only).
var fileStates = map[string]node.FileProgress{}

func (f *front) SendFile(path string) error {
	g := f.m.current()
	if g == nil {
		return fmt.Errorf("no current group")
	}
	gid := g.info.ID
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	f.async("sending "+termtext.OneLine(filepath.Base(path))+"…", false, func(ctx context.Context, be backend.Backend) (string, error) {
		m, err := be.SendFile(ctx, gid, path)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("sent %s (%s)", termtext.OneLine(m.File.Name), sizeText(m.File.Size)), nil
	})
	return nil
}

// onFile records a fetch's progress, redraws its line and reports it.
func (m *Model) onFile(p *node.FileProgress) {
	if p == nil {
		return
	}
	fileStates[p.ID] = *p
	if g := m.groupByID(p.Group); g != nil {
		for _, e := range g.entries {
			if e.msg.ID == p.ID {
				e.cached = nil
			}
		}
	}
	switch {
	case p.Error != "" && p.State != "complete":
		m.setNotice("%s: %s", termtext.OneLine(p.Name), termtext.OneLine(p.Error))
	case p.State == "complete":
		m.setNotice("%s downloaded (%s)", termtext.OneLine(p.Name), sizeText(p.Total))
	default:
		m.setNotice("%s: %s", termtext.OneLine(p.Name), progressText(*p))
	}
}

// fileBody is a file message's text: "📎 name (size) state".
func fileBody(msg node.Message) string {
	if msg.File == nil {
		return "(file)"
	}
	b := "📎 " + termtext.OneLine(msg.File.Name) + " (" + sizeText(msg.File.Size) + ")"
	if p, ok := fileStates[msg.ID]; ok {
		if p.State == "partial" {
			return b + " " + progressText(p)
		}
		return b + " " + p.State
	}
	return b
}

func progressText(p node.FileProgress) string {
	pct := 100.0
	if p.Total > 0 {
		pct = float64(p.Done) * 100 / float64(p.Total)
	}
	s := fmt.Sprintf("%.0f%% of %s", pct, sizeText(p.Total))
	if p.Speed > 0 {
		s += ", " + sizeText(uint64(p.Speed)) + "/s"
	}
	if p.ETA > 0 {
		s += ", " + (time.Duration(p.ETA) * time.Second).Round(time.Second).String() + " left"
	}
	return s
}

func sizeText(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", f), ".0") + " " + units[i]
}
