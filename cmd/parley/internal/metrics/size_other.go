//go:build !unix

package metrics

import "io/fs"

// diskBytes is the file's size (no block count outside Unix).
func diskBytes(fi fs.FileInfo) int64 { return fi.Size() }
