package store

import (
	"context"
	"testing"
	"time"
)

// BenchmarkIndexDeferred compares writing 20,000 messages with their
// postings against writing them with markers and indexing them after.
func BenchmarkIndexDeferred(b *testing.B) {
	for _, later := range []bool{false, true} {
		name := "inline"
		if later {
			name = "later"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				s, err := Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				g := gidOf("bench")
				const n = 20000
				batch := make([]Message, 0, 100)
				t0 := time.Now()
				for i := uint64(1); i <= n; i++ {
					m := mkMsg(g, i, "a", i, i)
					if later {
						m.IndexLater = true
					} else {
						e := timedTerms(g, Stored{Raw: m.Raw})
						m.Terms, m.TimeMs = e.Terms, e.TimeMs
					}
					batch = append(batch, m)
					if len(batch) == cap(batch) {
						if _, err := s.AppendReceived(context.Background(), batch...); err != nil {
							b.Fatal(err)
						}
						batch = batch[:0]
					}
				}
				stored := time.Since(t0)
				for done := !later; !done; {
					if done, err = s.IndexDeferred(256, timedTerms); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(stored.Microseconds())/n, "us/stored")
				b.ReportMetric(float64(time.Since(t0).Microseconds())/n, "us/indexed")
				s.Close()
			}
		})
	}
}
