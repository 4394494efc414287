package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunSearchSmall(t *testing.T) {
	res, err := RunSearch(context.Background(), SearchConfig{Messages: 3000, Queries: 30, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Queries.Count != 30 || res.MeanResults <= 0 || res.Queries.P99 <= 0 || res.Settled.Count != 30 || res.StoreMB <= 0 {
		t.Fatalf("figures %+v", res)
	}
	if len(res.Classes) != 3 || res.Classes[0].MeanResults <= 0 || res.Classes[2].Latency.Count != 6 {
		t.Fatalf("classes %+v", res.Classes)
	}
	var b bytes.Buffer
	res.WriteMarkdown(&b)
	if !strings.Contains(b.String(), "Search over 3000 stored messages") {
		t.Fatalf("report:\n%s", b.String())
	}
}

func TestSearchWord(t *testing.T) {
	seen := map[string]bool{}
	for k := range uint64(2000) {
		w := searchWord(k)
		if seen[w] || len(w) < 2 {
			t.Fatalf("word %d = %q", k, w)
		}
		seen[w] = true
	}
}
