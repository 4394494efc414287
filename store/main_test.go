package store

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine (ours or Badger's) outlives
// the tests: every Store a test opens must be closed, and Close must stop
// everything Open started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
