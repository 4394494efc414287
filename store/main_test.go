package store

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine (ours or Badger's) outlives
// the tests: every Store a test opens must be closed, and Close must stop
// everything Open started. It also makes Argon2id cheap: the tests check
// the key handling, not the cost.
func TestMain(m *testing.M) {
	kdfDefaults = keyFile{Time: 1, MemoryKiB: 64, Threads: 1}
	goleak.VerifyTestMain(m)
}
