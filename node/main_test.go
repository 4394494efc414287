package node

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes what it starts: a goroutine left behind fails the run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
