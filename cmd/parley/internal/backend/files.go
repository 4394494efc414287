package backend

import (
	"context"
	"io"

	"github.com/parley-chat/parley/node"
)

// Files is the part of Backend that sends, lists, fetches and saves files.
type Files interface {
	SendFile(ctx context.Context, ref, path string) (node.Message, error)
	SendFileReader(ctx context.Context, ref, name string, size int64, r io.Reader) (node.Message, error)
	Files(ref string) ([]node.FileInfo, error)
	FetchFile(ctx context.Context, ref, id string) error
	SaveFile(ref, id, outPath string) error
	OpenFile(ref, id string) (node.FileInfo, io.ReadSeeker, error)
}
