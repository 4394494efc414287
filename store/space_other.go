//go:build !unix

package store

import "errors"

var errNoFallocate = errors.New("fallocate not supported")

func freeBytes(string) (int64, error) { return 0, errors.New("free space unknown on this platform") }

func allocate(string) error { return errNoFallocate }
