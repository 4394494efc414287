//go:build unix

package metrics

import (
	"io/fs"
	"syscall"
)

// diskBytes is what a file takes on disk: Badger preallocates its value log
// as a sparse file of up to 2 GiB, so the apparent size would mislead.
func diskBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
