package tui

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node"
)

// The test fake sends no files.
func (f *fake) SendFile(context.Context, string, string) (node.Message, error) {
	return node.Message{}, io.ErrUnexpectedEOF
}
func (f *fake) SendFileReader(context.Context, string, string, int64, io.Reader) (node.Message, error) {
	return node.Message{}, io.ErrUnexpectedEOF
}
func (f *fake) Files(string) ([]node.FileInfo, error)           { return nil, nil }
func (f *fake) FetchFile(context.Context, string, string) error { return nil }
func (f *fake) SaveFile(string, string, string) error           { return nil }
func (f *fake) OpenFile(string, string) (node.FileInfo, io.ReadSeeker, error) {
	return node.FileInfo{}, nil, node.ErrNoSuchFile
}

func TestFileLine(t *testing.T) {
	m := node.Message{ID: "f1", Kind: "file", File: &node.FileInfo{Name: "cat.png", Size: 2_500_000}}
	if got := fileBody(m); !strings.Contains(got, "cat.png") || !strings.Contains(got, "2.5 MB") {
		t.Fatalf("line %q", got)
	}
	fileStates["f1"] = node.FileProgress{ID: "f1", State: "partial", Done: 1_250_000, Total: 2_500_000, Speed: 1e6, ETA: 2}
	defer delete(fileStates, "f1")
	if got := fileBody(m); !strings.Contains(got, "50% of 2.5 MB") || !strings.Contains(got, "1 MB/s") || !strings.Contains(got, "2s left") {
		t.Fatalf("progress line %q", got)
	}
}
