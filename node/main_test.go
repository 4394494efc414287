package node

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes what it starts: a goroutine left behind fails the run.
//
// One exception, libp2p's mock network's own streams: when a test cuts a
// link (partition), mocknet resets only the streams open at that instant; a
// GossipSub stream opened during the cut can outlive every host and the
// network itself, blocked in the mock pipe (seen under load). Those
// goroutines are mocknet's, not Parley's; any other leak still fails.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).transport"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).Write"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).Read"),
	)
}
