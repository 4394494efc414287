package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/store"
)

// The search benchmark (--search N): a store of N messages written straight
// into Badger (node.SeedHistory), then two-word queries through the same
// path `parley search` takes without a daemon (node.Local.Search: folding,
// the index join, decoding the results).

// SearchConfig is the search benchmark's setup.
type SearchConfig struct {
	Messages int // stored messages
	Queries  int // timed two-word queries
	Limit    int // results per query
	Words    int // words per message
	Vocab    int // distinct words; message and query words are Zipf-distributed over them
	Dir      string
	Progress io.Writer
}

// SearchResult is the search benchmark's figures.
type SearchResult struct {
	Messages     int         `json:"messages"`
	BuildSeconds float64     `json:"build_seconds"`
	StoreMB      float64     `json:"store_mb"`
	Queries      Percentiles `json:"query_latency"`
	MeanResults  float64     `json:"mean_results"`
	Limit        int         `json:"limit"`
	Words        int         `json:"words_per_message"`
	Vocab        int         `json:"vocabulary"`
}

// searchWord is word k of the synthetic vocabulary: letters, so the
// tokenizer keeps it whole.
func searchWord(k uint64) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	b.WriteString("w")
	for {
		b.WriteByte(letters[k%26])
		k /= 26
		if k == 0 {
			return b.String()
		}
	}
}

// RunSearch builds the store and times the queries.
func RunSearch(ctx context.Context, cfg SearchConfig) (SearchResult, error) {
	if cfg.Queries <= 0 {
		cfg.Queries = 1000
	}
	if cfg.Limit <= 0 {
		cfg.Limit = node.DefaultSearchLimit
	}
	if cfg.Words <= 0 {
		cfg.Words = 8
	}
	if cfg.Vocab <= 0 {
		cfg.Vocab = 10000
	}
	say := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", a...)
		}
	}
	res := SearchResult{Messages: cfg.Messages, Limit: cfg.Limit, Words: cfg.Words, Vocab: cfg.Vocab}
	dir, err := os.MkdirTemp(cfg.Dir, "parley-search-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		return res, err
	}
	defer st.Close()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return res, err
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return res, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.07, 1, uint64(cfg.Vocab-1))
	say("search: writing %d messages of %d words", cfg.Messages, cfg.Words)
	t0 := time.Now()
	words := make([]string, cfg.Words)
	_, err = node.SeedHistory(ctx, st, key, "search-bench", cfg.Messages, func(int) string {
		for i := range words {
			words[i] = searchWord(zipf.Uint64())
		}
		return strings.Join(words, " ")
	})
	if err != nil {
		return res, err
	}
	res.BuildSeconds = time.Since(t0).Seconds()
	res.StoreMB = float64(dirSize(dir)) / 1e6
	say("search: built in %.1f s (%.0f MB on disk); %d queries", res.BuildSeconds, res.StoreMB, cfg.Queries)
	l := node.NewLocal(st, self)
	lat := make([]float64, 0, cfg.Queries)
	total := 0
	for range cfg.Queries {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		q := searchWord(zipf.Uint64()) + " " + searchWord(zipf.Uint64())
		start := time.Now()
		rs, err := l.Search(q, node.SearchOptions{Limit: cfg.Limit})
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		if err != nil {
			return res, fmt.Errorf("search %q: %w", q, err)
		}
		total += len(rs)
	}
	res.Queries = percentiles(lat)
	res.MeanResults = float64(total) / float64(cfg.Queries)
	return res, nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// WriteMarkdown prints the figures as a table.
func (r SearchResult) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## Search over %d stored messages\n\n", r.Messages)
	fmt.Fprintf(w, "%d words per message from a Zipf-distributed vocabulary of %d; two-word queries (words drawn the same way), newest %d results.\n\n",
		r.Words, r.Vocab, r.Limit)
	fmt.Fprintln(w, "| build | store | queries | p50 | p90 | p99 | max | mean results |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	fmt.Fprintf(w, "| %.1f s | %.0f MB | %d | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.1f |\n",
		r.BuildSeconds, r.StoreMB, r.Queries.Count, r.Queries.P50, r.Queries.P90, r.Queries.P99, r.Queries.Max, r.MeanResults)
}
