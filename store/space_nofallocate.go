//go:build !linux

package store

// allocate: fallocate is Linux's; elsewhere the memtable files stay sparse
// and the free-space reserve alone guards against a full disk.
func allocate(string) error { return errNoFallocate }
