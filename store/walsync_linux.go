//go:build linux

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData writes back f's data without its timestamps: Badger writes a
// log through a memory map, which moves its mtime, and a full fsync would
// commit the file system's journal for that alone.
func syncData(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
