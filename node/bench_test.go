package node

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-chat/parley/store"
)

// Catch-up benchmarks: a node that was offline connects to peers holding
// `missed` messages it lacks, over loopback TCP, with a disk store (fsync
// included). Reported: wall time per catch-up, messages/s and sync stream
// bytes on the wire per catch-up. Run with:
//
//	go test ./node -run '^$' -bench 'CatchUp|NoopSync' -benchtime 3x
func BenchmarkCatchUp(b *testing.B) {
	for _, missed := range []int{10_000, 100_000} {
		for _, peers := range []int{1, 3} {
			b.Run(fmt.Sprintf("missed=%d/peers=%d", missed, peers), func(b *testing.B) {
				benchCatchUp(b, missed, peers)
			})
		}
	}
}

func benchCatchUp(b *testing.B, missed, peers int) {
	servers, group := benchServers(b, missed, peers)
	want := uint64(missed + 1) // plus the receiver's own join
	var bytes uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		recv := newTestNode(b, "recv", b.TempDir(), WithSyncInterval(0))
		code, err := servers[0].Invite(group)
		if err != nil {
			b.Fatal(err)
		}
		// Join without the invite's dial so the clock starts when we connect.
		inv, _ := DecodeInvite(code)
		inv.Inviter.ID = ""
		if _, err := recv.joinDecoded(context.Background(), inv); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, s := range servers {
			connect(b, recv, s)
		}
		waitFor(b, "catch-up", func() bool {
			gi, err := recv.Group(group)
			return err == nil && gi.Messages >= want
		})
		b.StopTimer()
		// Close first so every pull has ended and counted its bytes.
		recv.stop()
		bytes += recv.sync.PulledBytes()
		b.StartTimer()
	}
	b.ReportMetric(float64(missed)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "wire-B/op")
}

// benchServers starts peers that all hold the same `missed` messages.
func benchServers(b *testing.B, missed, peers int) ([]*testNode, string) {
	b.Helper()
	author := newTestNode(b, "author", "", WithSyncInterval(0))
	gi, err := author.CreateGroup(context.Background(), "bench", false)
	if err != nil {
		b.Fatal(err)
	}
	bulkAppend(b, author, gi.ID, missed)
	servers := []*testNode{author}
	var all []store.Stored
	grp, _ := author.group(gi.ID)
	if err := author.st.After(grp.rec.ID, nil, func(s store.Stored) bool { all = append(all, s); return true }); err != nil {
		b.Fatal(err)
	}
	code, _ := author.Invite(gi.ID)
	inv, _ := DecodeInvite(code)
	inv.Inviter.ID = ""
	for i := 1; i < peers; i++ {
		s := newTestNode(b, fmt.Sprintf("server%d", i), "", WithSyncInterval(0))
		if _, err := s.joinDecoded(context.Background(), inv); err != nil {
			b.Fatal(err)
		}
		sg, _ := s.group(gi.ID)
		for j := 0; j < len(all); j += 1000 {
			var vs []*verified
			for _, st := range all[j:min(j+1000, len(all))] {
				v, err := verifySigned(sg.rec.ID, st.Raw)
				if err != nil {
					b.Fatal(err)
				}
				vs = append(vs, v)
			}
			if _, err := s.ingest(sg, vs, ""); err != nil {
				b.Fatal(err)
			}
		}
		servers = append(servers, s)
	}
	return servers, gi.ID
}

// BenchmarkNoopSync measures a pull between two nodes that already agree:
// its cost must not grow with history size.
func BenchmarkNoopSync(b *testing.B) {
	for _, size := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("history=%d", size), func(b *testing.B) {
			servers, group := benchServers(b, size, 2)
			a, c := servers[0], servers[1]
			connect(b, a, c)
			ga, _ := c.group(group)
			waitFor(b, "initial sync", func() bool {
				x, _ := a.Group(group)
				y, _ := c.Group(group)
				return x.Messages == y.Messages
			})
			b.ResetTimer()
			var bytes uint64
			for range b.N {
				pr, err := c.sync.Pull(context.Background(), a.ID(), ga.sync)
				if err != nil {
					b.Fatal(err)
				}
				if pr.Received != 0 {
					b.Fatalf("no-op sync moved %d messages", pr.Received)
				}
				bytes += pr.Bytes
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "wire-B/op")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
		})
	}
}
