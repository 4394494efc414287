package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

func TestProbeTooBig(t *testing.T) {
	for _, disk := range []bool{false, true} {
	for _, raw := range []int{10, 900, 1024, 4000} {
		if !disk && raw >= 1024 { continue }
		for _, P := range []int{4, 5, 6, 7, 8, 12, 16} {
			var s *Store
			var err error
			if disk { s, err = Open(t.TempDir()) } else { s, err = Open("", InMemory()) }
			if err != nil { t.Fatal(err) }
			g := gidOf("probe")
			msgs := make([]Message, 1500)
			for i := range msgs {
				var ps []MessageID
				for j := 0; j < P; j++ { ps = append(ps, idOf(uint64(1_000_000+i*P+j))) }
				msgs[i] = mkMsg(g, uint64(i), "alice", uint64(i+1), uint64(i+1), ps...)
				msgs[i].Raw = bytes.Repeat([]byte{1}, raw)
			}
			ins, err := s.Append(context.Background(), msgs...)
			st, _ := s.GroupStats(g)
			v := vector(t, s, g)
			m := missing(t, s, g)
			n := len(history(t, s, g, nil, 1<<20))
			fmt.Printf("disk=%v raw=%d P=%d err=%v inserted=%d count=%d history=%d vec=%d missing=%d/%d\n", disk, raw, P, err, countTrue(ins), st.Count, n, v["alice"], len(m), 1500*P)
			s.Close()
		}
	}
	}
}
