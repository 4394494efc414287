//go:build unix

package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// BenchmarkSustainedReceive is the storage floor under the benchmark's
// throughput load: five stores in one process (as parley-bench runs five
// nodes), each taking the same stream of received messages as fast as it
// can, b.N messages per store, long enough for memtable flushes and level-0
// compactions (run it with -benchtime=300000x or more). No network, no
// crypto: what is left is what storing costs. It reports messages per
// second per store, the process's CPU time per stored message (cpu-us/msg:
// one store's cost of one delivery), and the latency of one batch (a received bundle).
//
//	parley: AppendReceived, every key a received message gets (postings
//	        deferred, as live messages are stored).
//	badger: the same options, one key per message (its raw bytes under
//	        its m/ key): Badger's own floor for the same bytes.
//
//	parley-paced: AppendReceived at pacedRate messages a second per store,
//	        about where parley-bench's throughput steps start to fail: the
//	        batch latency then shows what a flush or a compaction costs a
//	        store that keeps up.
//
// The stream is what a 5-node group sending 256-byte texts makes: five
// authors, each message naming the one before it, a raw message of about
// 480 bytes whose 256-byte text repeats (it compresses as the benchmark's
// does) and whose ids and signature do not.
func BenchmarkSustainedReceive(b *testing.B) {
	for _, mode := range []string{"parley", "badger", "parley-paced"} {
		b.Run(mode, func(b *testing.B) {
			const stores, batch = 5, 16 // a received bundle under load
			msgs := sustainedStream(b.N)
			ss := make([]*Store, stores)
			for i := range ss {
				s, err := Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() }) // before the directory goes, also on a failure
				ss[i] = s
			}
			b.ResetTimer()
			cpu0 := processCPU(b)
			lat := make([][]time.Duration, stores)
			var wg sync.WaitGroup
			errs := make(chan error, stores)
			t0 := time.Now()
			for i, s := range ss {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < len(msgs); j += batch {
						part := msgs[j:min(j+batch, len(msgs))]
						if mode == "parley-paced" { // each batch at its time, however late the one before
							time.Sleep(time.Until(t0.Add(time.Duration(j) * time.Second / pacedRate)))
						}
						t := time.Now()
						var err error
						if mode != "badger" {
							_, err = s.AppendReceived(context.Background(), part...)
						} else {
							err = s.db.Update(func(txn *badger.Txn) error {
								for _, m := range part {
									if err := txn.Set(key('m', m.Group[:], u64(m.Lamport), m.ID[:]), m.Raw); err != nil {
										return err
									}
								}
								return nil
							})
						}
						if err != nil {
							errs <- err
							return
						}
						lat[i] = append(lat[i], time.Since(t))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(t0)
			cpu := processCPU(b) - cpu0
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			all := slices.Concat(lat...)
			slices.Sort(all)
			slow := 0
			for _, d := range all {
				if d > 100*time.Millisecond {
					slow++
				}
			}
			b.ReportMetric(float64(len(msgs))/elapsed.Seconds(), "msgs/s/store")
			b.ReportMetric(float64(cpu.Microseconds())/float64(len(msgs)*stores), "cpu-us/msg")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-batch-ms")
			b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-batch-ms")
			b.ReportMetric(float64(slow), "batches>100ms")
		})
	}
}

// pacedRate is the paced mode's messages per second per store.
const pacedRate = 4000

// sustainedStream is n messages of one group from five authors, in the
// order one member receives them.
func sustainedStream(n int) []Message {
	g := gidOf("sustained")
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog ", 6)[:256])
	authors := make([][]byte, 5)
	for i := range authors {
		authors[i] = []byte(fmt.Sprintf("%038d", i)) // a peer id's length
	}
	out := make([]Message, n)
	var prev MessageID
	for i := range out {
		var id MessageID
		rand.Read(id[:])
		raw := make([]byte, 0, 480)
		raw = append(raw, g[:]...)
		raw = append(raw, authors[i%5]...)
		raw = append(raw, id[:]...) // stands for the parent ids
		raw = append(raw, text...)  // the body
		raw = append(raw, id[:]...) // stands for other fields
		sig := make([]byte, 64)
		rand.Read(sig)
		raw = append(raw, sig...)
		raw = append(raw, make([]byte, 480-len(raw))...)
		out[i] = Message{Group: g, ID: id, Author: authors[i%5], Seq: uint64(i/5 + 1), Lamport: uint64(i + 1),
			TimeMs: int64(1_700_000_000_000 + i), Parents: []MessageID{prev}, IndexLater: true, Raw: raw}
		if i == 0 {
			out[i].Parents = nil
		}
		prev = id
	}
	return out
}

// processCPU is the CPU time (user and system) the process has used: every
// goroutine's, Badger's flushes and compactions included.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
