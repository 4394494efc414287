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
// the index join, decoding the results). The queries run twice: at once,
// while Badger still compacts what the bulk write left (both cores busy),
// and again once compaction has settled, with per-class figures (common
// and rare words) on the settled store.

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
	Messages     int     `json:"messages"`
	BuildSeconds float64 `json:"build_seconds"`
	// StoreMB is the disk space the store's files take (allocated blocks,
	// store open): the apparent size also counts Badger's value log, a
	// sparse file of 2 GiB that holds nothing here.
	StoreMB float64 `json:"store_mb"`
	// Queries is timed at once after the build, during compaction.
	Queries     Percentiles `json:"query_latency"`
	MeanResults float64     `json:"mean_results"`
	// SettleSeconds is how long compaction ran on after the build;
	// Settled and Classes are timed after it.
	SettleSeconds float64       `json:"settle_seconds"`
	Settled       Percentiles   `json:"settled_query_latency"`
	SettledMean   float64       `json:"settled_mean_results"`
	Classes       []SearchClass `json:"classes"`
	Limit         int           `json:"limit"`
	Words         int           `json:"words_per_message"`
	Vocab         int           `json:"vocabulary"`
}

// SearchClass is the latency of one class of two-word queries.
type SearchClass struct {
	Name        string      `json:"name"`
	Latency     Percentiles `json:"latency"`
	MeanResults float64     `json:"mean_results"`
}

// searchClasses: common words are the 10 most frequent of the vocabulary
// (each in 15% to 65% of messages at 8 words from 10,000), rare ones are
// ranks 3,000 and up (each in about 100 messages per million or fewer).
func searchClasses(vocab int) []struct {
	name string
	a, b [2]int
} {
	common, rare := [2]int{0, min(10, vocab)}, [2]int{min(3000, vocab/2), vocab}
	return []struct {
		name string
		a, b [2]int
	}{{"common+common", common, common}, {"common+rare", common, rare}, {"rare+rare", rare, rare}}
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
	timeQueries := func(n int, query func() string) (Percentiles, float64, error) {
		lat := make([]float64, 0, n)
		total := 0
		for range n {
			if err := ctx.Err(); err != nil {
				return Percentiles{}, 0, err
			}
			q := query()
			start := time.Now()
			rs, err := l.Search(q, node.SearchOptions{Limit: cfg.Limit})
			lat = append(lat, float64(time.Since(start).Microseconds())/1000)
			if err != nil {
				return Percentiles{}, 0, fmt.Errorf("search %q: %w", q, err)
			}
			total += len(rs)
		}
		return percentiles(lat), float64(total) / float64(n), nil
	}
	zipfQuery := func() string { return searchWord(zipf.Uint64()) + " " + searchWord(zipf.Uint64()) }
	if res.Queries, res.MeanResults, err = timeQueries(cfg.Queries, zipfQuery); err != nil {
		return res, err
	}
	say("search: p99 %.1f ms during compaction; waiting for it to settle", res.Queries.P99)
	t1 := time.Now()
	for st.CompactionPending() {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	res.SettleSeconds = time.Since(t1).Seconds()
	say("search: settled after %.1f s", res.SettleSeconds)
	if res.Settled, res.SettledMean, err = timeQueries(cfg.Queries, zipfQuery); err != nil {
		return res, err
	}
	pick := func(r [2]int) string { return searchWord(uint64(r[0] + rng.IntN(r[1]-r[0]))) }
	for _, c := range searchClasses(cfg.Vocab) {
		sc := SearchClass{Name: c.name}
		if sc.Latency, sc.MeanResults, err = timeQueries(max(cfg.Queries/5, 1), func() string { return pick(c.a) + " " + pick(c.b) }); err != nil {
			return res, err
		}
		res.Classes = append(res.Classes, sc)
	}
	return res, nil
}

// dirSize is the disk space the files under dir take: allocated blocks
// where the system says (a sparse file counts what it holds), else sizes.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += allocated(fi)
			}
		}
		return nil
	})
	return n
}

// WriteMarkdown prints the figures as a table.
func (r SearchResult) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## Search over %d stored messages\n\n", r.Messages)
	fmt.Fprintf(w, "%d words per message from a Zipf-distributed vocabulary of %d; two-word queries (words drawn the same way), newest %d results. Built in %.1f s; the store takes %.0f MB of disk.\n\n",
		r.Words, r.Vocab, r.Limit, r.BuildSeconds, r.StoreMB)
	fmt.Fprintln(w, "| queries | when | count | p50 | p90 | p99 | max | mean results |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	row := func(name, when string, p Percentiles, mean float64) {
		fmt.Fprintf(w, "| %s | %s | %d | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.1f |\n",
			name, when, p.Count, p.P50, p.P90, p.P99, p.Max, mean)
	}
	row("Zipf words", "during compaction, right after the build", r.Queries, r.MeanResults)
	if r.Settled.Count > 0 {
		row("Zipf words", fmt.Sprintf("settled (compaction ran %.0f s more)", r.SettleSeconds), r.Settled, r.SettledMean)
	}
	for _, c := range r.Classes {
		row(c.Name, "settled", c.Latency, c.MeanResults)
	}
}
