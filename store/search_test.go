package store

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

func searchAll(t testing.TB, s *Store, terms []string, g *GroupID, limit int) []SearchHit {
	t.Helper()
	var out []SearchHit
	err := s.Search(terms, g, func(h SearchHit) bool {
		out = append(out, h)
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		t.Fatalf("Search %q: %v", terms, err)
	}
	return out
}

// searchModel is the brute-force truth: every version (message or edit)
// with its terms, minus the unindexed ones.
type searchDoc struct {
	g       GroupID
	id      MessageID
	shown   MessageID
	lamport uint64
	timeMs  int64
	terms   map[string]bool
}

func (d searchDoc) key() []byte { return docKey(d.timeMs, d.g, d.id) }

func bruteSearch(docs []searchDoc, deleted map[MessageID]bool, terms []string, g *GroupID) []MessageID {
	var match []searchDoc
	for _, d := range docs {
		if deleted[d.id] || deleted[d.shown] || (g != nil && *g != d.g) {
			continue
		}
		ok := true
		for _, t := range terms {
			ok = ok && d.terms[t]
		}
		if ok {
			match = append(match, d)
		}
	}
	slices.SortFunc(match, func(a, b searchDoc) int { return bytes.Compare(a.key(), b.key()) })
	var out []MessageID
	seen := map[MessageID]bool{}
	for _, d := range match {
		if !seen[d.shown] {
			seen[d.shown] = true
			out = append(out, d.shown)
		}
	}
	return out
}

func TestSearchMatchesBruteForce(t *testing.T) {
	s := openMem(t)
	rng := rand.New(rand.NewPCG(7, 13))
	vocab := []string{"hello", "world", "grüße", "straße", "日本", "語", "café", "ok", "parley", "zz",
		"один", "два", "naïve", "42", "x1"}
	groups := []GroupID{gidOf("s1"), gidOf("s2"), gidOf("s3")}
	var docs []searchDoc
	lam := map[GroupID]uint64{}
	seq := map[GroupID]uint64{}
	var texts []searchDoc // messages that may be edited
	deleted := map[MessageID]bool{}
	for n := uint64(1); n <= 1500; n++ {
		g := groups[rng.IntN(len(groups))]
		lam[g]++
		seq[g]++
		m := mkMsg(g, n, "author", seq[g], lam[g])
		m.TimeMs = 1_700_000_000_000 + int64(rng.IntN(100000)) // times collide and disagree with lamport
		terms := map[string]bool{}
		for range 1 + rng.IntN(5) {
			terms[vocab[rng.IntN(len(vocab))]] = true
		}
		for w := range terms {
			m.Terms = append(m.Terms, w)
		}
		shown := m.ID
		if len(texts) > 0 && rng.IntN(5) == 0 { // an edit of an earlier text in the same group
			tg := texts[rng.IntN(len(texts))]
			if tg.g == g {
				m.TermsOf, shown = tg.id, tg.id
				m.Targets = []MessageID{tg.id}
			}
		}
		mustAppend(t, s, m)
		d := searchDoc{g: g, id: m.ID, shown: shown, lamport: m.Lamport, timeMs: m.TimeMs, terms: terms}
		docs = append(docs, d)
		if shown == m.ID {
			texts = append(texts, d)
		}
	}
	// Delete some messages from the index (and some edits).
	for _, d := range docs[:200] {
		if rng.IntN(4) == 0 {
			terms := make([]string, 0, len(d.terms))
			for w := range d.terms {
				terms = append(terms, w)
			}
			if err := s.Unindex(d.g, d.id, terms); err != nil {
				t.Fatal(err)
			}
			if d.id == d.shown {
				deleted[d.id] = true
			} else {
				// An unindexed edit: only its own postings go.
				for i := range docs {
					if docs[i].id == d.id {
						docs[i].terms = nil
					}
				}
			}
		}
	}
	// A deleted text's edits still name it; the message itself stays held
	// here, so drop its edits' postings too (what the node does).
	for _, d := range docs {
		if deleted[d.shown] && d.id != d.shown {
			var terms []string
			for w := range d.terms {
				terms = append(terms, w)
			}
			if err := s.Unindex(d.g, d.id, terms); err != nil {
				t.Fatal(err)
			}
		}
	}
	queries := 0
	for _, a := range vocab {
		for _, b := range append(vocab, "") {
			terms := []string{a}
			if b != "" && b != a {
				terms = append(terms, b)
			}
			for _, g := range []*GroupID{nil, &groups[1]} {
				want := bruteSearch(docs, deleted, terms, g)
				got := searchAll(t, s, terms, g, 0)
				var ids []MessageID
				for _, h := range got {
					ids = append(ids, h.Shown.ID)
					if len(h.Shown.Raw) == 0 {
						t.Fatal("hit without raw")
					}
				}
				if !slices.Equal(ids, want) {
					t.Fatalf("Search %q group %v: got %d results, want %d", terms, g != nil, len(ids), len(want))
				}
				if lim := searchAll(t, s, terms, g, 3); len(want) >= 3 && !slices.Equal(hitIDs(lim), want[:3]) {
					t.Fatalf("Search %q limit 3 = %x, want %x", terms, hitIDs(lim), want[:3])
				}
				queries++
			}
		}
	}
	if got := searchAll(t, s, []string{"hello", "nothing"}, nil, 0); len(got) != 0 {
		t.Fatalf("absent word matched %d", len(got))
	}
	t.Logf("%d queries checked", queries)
}

func hitIDs(hs []SearchHit) []MessageID {
	out := make([]MessageID, len(hs))
	for i, h := range hs {
		out[i] = h.Shown.ID
	}
	return out
}

func TestSearchSkipsUnheld(t *testing.T) {
	s := openMem(t)
	g := gidOf("g")
	orig := mkMsg(g, 1, "a", 1, 1)
	orig.Terms = []string{"one"}
	edit := mkMsg(g, 2, "a", 2, 2, orig.ID)
	edit.Terms, edit.TermsOf, edit.Targets = []string{"two"}, orig.ID, []MessageID{orig.ID}
	mustAppend(t, s, edit) // the edit before its target: its hit waits for the target
	if got := searchAll(t, s, []string{"two"}, nil, 0); len(got) != 0 {
		t.Fatalf("edit of an unheld message found: %d", len(got))
	}
	mustAppend(t, s, orig)
	for _, w := range []string{"one", "two"} {
		got := searchAll(t, s, []string{w}, nil, 0)
		if len(got) != 1 || got[0].Shown.ID != orig.ID || !bytes.Equal(got[0].Shown.Raw, orig.Raw) {
			t.Fatalf("Search %s = %+v", w, got)
		}
	}
	if err := s.Search(nil, nil, func(SearchHit) bool { return true }); err == nil {
		t.Fatal("empty query accepted")
	}
	if err := s.Unindex(g, idOf(77), []string{"one"}); err != nil { // never indexed: a no-op
		t.Fatal(err)
	}
	if got := searchAll(t, s, []string{"one"}, nil, 0); len(got) != 1 {
		t.Fatalf("Unindex of another id removed a hit: %d", len(got))
	}
	bad := mkMsg(g, 3, "a", 3, 3)
	bad.Terms = []string{strings.Repeat("x", MaxTermLen+1)}
	if _, err := s.Append(context.Background(), bad); err == nil {
		t.Fatal("over-long term accepted")
	}
}

// fixtureTerms is what a backfill's caller says about a fixture message:
// the words of its raw body "raw:<gid>:<n>".
func fixtureTerms(_ GroupID, st Stored) IndexEntry {
	parts := strings.Split(string(st.Raw), ":")
	return IndexEntry{Terms: []string{"raw", "n" + parts[2]}, TimeMs: 1_700_000_000_000}
}

// TestBackfillFromV2 opens a schema 2 store (written by commit 24e0793):
// the migration marks its messages for backfill, which is interrupted (a
// close mid-way) and resumed, and then finds every one.
func TestBackfillFromV2(t *testing.T) {
	dir := copyDir(t, "testdata/v2")
	rawDB(t, dir, func(db *badger.DB) {
		if v := schemaOf(t, db); v != 2 {
			t.Fatalf("fixture schema = %d, want 2", v)
		}
	})
	s := openDir(t, dir)
	verifyFixture(t, s)
	if p, err := s.BackfillPending(); err != nil || !p {
		t.Fatalf("BackfillPending = %v, %v", p, err)
	}
	if done, err := s.Backfill(7, fixtureTerms); err != nil || done {
		t.Fatalf("first Backfill = %v, %v", done, err)
	}
	if got := searchAll(t, s, []string{"raw"}, nil, 0); len(got) != 7 {
		t.Fatalf("after one step %d found, want 7", len(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir)
	defer s.Close()
	steps := 0
	for done := false; !done; steps++ {
		var err error
		if done, err = s.Backfill(7, fixtureTerms); err != nil {
			t.Fatal(err)
		}
	}
	if steps != 5 { // 33 left of 40, 7 at a time, the last one short
		t.Fatalf("resumed backfill took %d steps", steps)
	}
	if p, _ := s.BackfillPending(); p {
		t.Fatal("still pending")
	}
	if got := searchAll(t, s, []string{"raw"}, nil, 0); len(got) != 40 {
		t.Fatalf("found %d of 40", len(got))
	}
	got := searchAll(t, s, []string{"raw", "n105"}, &fixtureBeta, 0)
	if len(got) != 1 || got[0].Shown.ID != idOf(105) {
		t.Fatalf("two-word query = %+v", got)
	}
}

// TestReindexFromV3 opens a schema 3 store with the old postings
// (testdata/v3): a crash after the old index is dropped leaves it at schema
// 3, the next Open finishes the migration, the old keys are gone from the
// files, and a backfill finds every message again.
func TestReindexFromV3(t *testing.T) {
	dir := copyDir(t, "testdata/v3")
	rawDB(t, dir, func(db *badger.DB) {
		if v := schemaOf(t, db); v != 3 {
			t.Fatalf("fixture schema = %d, want 3", v)
		}
		if x, X := countPrefix(t, db, 'x'), countPrefix(t, db, 'X'); x != 80 || X != 40 {
			t.Fatalf("fixture has %d x/ and %d X/ keys", x, X)
		}
	})
	openCrashing(t, dir, 4, 0, 0)
	rawDB(t, dir, func(db *badger.DB) {
		if v, n := schemaOf(t, db), countPrefix(t, db, 'x'); v != 3 || n != 0 {
			t.Fatalf("after a crash: schema %d, %d x/ keys", v, n)
		}
	})
	s := openDir(t, dir)
	verifyFixture(t, s)
	if p, err := s.BackfillPending(); err != nil || !p {
		t.Fatalf("BackfillPending = %v, %v", p, err)
	}
	for done := false; !done; {
		var err error
		if done, err = s.Backfill(16, fixtureTerms); err != nil {
			t.Fatal(err)
		}
	}
	if got := searchAll(t, s, []string{"raw"}, nil, 0); len(got) != 40 {
		t.Fatalf("found %d of 40", len(got))
	}
	if got := searchAll(t, s, []string{"n105", "raw"}, &fixtureBeta, 0); len(got) != 1 || got[0].Shown.ID != idOf(105) {
		t.Fatalf("two-word query = %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawDB(t, dir, func(db *badger.DB) {
		if v, x, X, q, p := schemaOf(t, db), countPrefix(t, db, 'x'), countPrefix(t, db, 'X'), countPrefix(t, db, 'Q'), countPrefix(t, db, 'P'); v != SchemaVersion || x+X != 0 || q != 40 || p != 40 {
			t.Fatalf("after the migration: schema %d, %d x/, %d X/, %d Q/, %d P/ keys", v, x, X, q, p)
		}
	})
	if f := fileWith(t, dir, []byte("x/\x03raw")); f != "" {
		t.Fatalf("%s still holds an old posting", f)
	}
}

// fileWith names a file under dir whose bytes contain b, or "".
func fileWith(t testing.TB, dir string, b []byte) string {
	t.Helper()
	found := ""
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil && bytes.Contains(data, b) {
			found = p
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestEraseDropsPostings: Erase removes a message's postings and record
// from the files (with its body), rebuilt from the Q/ record; the other
// messages stay found.
func TestEraseDropsPostings(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	g := gidOf("erase")
	var ms []Message
	words := []string{"kiwifruit", "zebracorn", "quokkamob"} // no shared run for compression to reuse
	for n := uint64(1); n <= 3; n++ {
		m := mkMsg(g, n, "a", n, n)
		m.Terms = []string{"common", words[n-1]}
		mustAppend(t, s, m)
		ms = append(ms, m)
	}
	if err := s.Close(); err != nil { // the postings reach the tables
		t.Fatal(err)
	}
	if f := fileWith(t, dir, []byte(words[1])); f == "" {
		t.Fatal("the word is in no file before the erase: the check proves nothing")
	}
	s = openDir(t, dir)
	// No Unindex first (the node's order): Erase alone must drop the keys.
	if ok, err := s.Erase(g, ms[1].ID, ms[1].Terms...); err != nil || !ok {
		t.Fatalf("Erase = %v, %v", ok, err)
	}
	if got := hitIDs(searchAll(t, s, []string{"common"}, nil, 0)); !slices.Equal(got, []MessageID{ms[2].ID, ms[0].ID}) {
		t.Fatalf("after erase: %x", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f := fileWith(t, dir, []byte(words[1])); f != "" {
		t.Fatalf("%s still holds the erased message's word", f)
	}
	if f := fileWith(t, dir, []byte(words[2])); f == "" {
		t.Fatal("the kept word is in no file: the check proves nothing")
	}
}

// TestEraseDropsPostingsFromBlock: messages stored in one commit share a
// block per word. Erasing one rewrites the blocks it was in: no version of
// any posting key, in the tables or the log, holds its doc any more (a
// grep of the files cannot tell: Badger stores a key as its difference from
// the block's first), and the others stay found.
func TestEraseDropsPostingsFromBlock(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	g := gidOf("erase-block")
	var ms []Message
	for n := uint64(1); n <= 3; n++ {
		m := mkMsg(g, n, "a", n, n)
		m.Terms = []string{"common", "shared"}
		ms = append(ms, m)
	}
	mustAppend(t, s, ms...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawDB(t, dir, func(db *badger.DB) {
		if docs, blocks := countPostings(t, db); docs != 6 || blocks != 2 {
			t.Fatalf("%d postings in %d blocks, want 6 in 2", docs, blocks)
		}
	})
	erased := docKey(ms[1].TimeMs, g, ms[1].ID)
	s = openDir(t, dir)
	if n := versionsHolding(t, s.db, erased); n != 2 {
		t.Fatalf("%d posting versions hold the doc before the erase, want 2", n)
	}
	if ok, err := s.Erase(g, ms[1].ID, ms[1].Terms...); err != nil || !ok {
		t.Fatalf("Erase = %v, %v", ok, err)
	}
	for _, w := range ms[1].Terms {
		if got := hitIDs(searchAll(t, s, []string{w}, nil, 0)); !slices.Equal(got, []MessageID{ms[2].ID, ms[0].ID}) {
			t.Fatalf("after erase, %q finds %x", w, got)
		}
	}
	// Before Close, whose compaction of level 0 would drop old versions anyway.
	if n := versionsHolding(t, s.db, erased); n != 0 {
		t.Fatalf("%d posting versions still hold the erased message's doc", n)
	}
	if n := versionsHolding(t, s.db, docKey(ms[2].TimeMs, g, ms[2].ID)); n < 2 {
		t.Fatalf("%d posting versions hold a kept doc", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// versionsHolding counts the versions of posting keys, live or not, whose
// key or value holds doc.
func versionsHolding(t *testing.T, db *badger.DB, doc []byte) int {
	t.Helper()
	n := 0
	{
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: key('q'), AllVersions: true})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				if bytes.Contains(it.Item().Key(), doc) || bytes.Contains(v, doc) {
					n++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func FuzzDecodeDocRec(f *testing.F) {
	f.Add(docRec{timeMs: 5, group: gidOf("g"), lamport: 7, id: idOf(1), shown: idOf(1)}.encode())
	f.Add(docRec{timeMs: 5, group: gidOf("g"), lamport: 7, id: idOf(1), shown: idOf(2)}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeDocRec(b)
		if err != nil {
			return
		}
		// An edit's record names its target; a record naming itself as
		// shown is read as a plain one (and written short).
		if back, err := decodeDocRec(r.encode()); err != nil || back != r {
			t.Fatalf("%x decoded to %+v, which round-trips to %+v, %v", b, r, back, err)
		}
	})
}

func TestNewStoreNeedsNoBackfill(t *testing.T) {
	s := openDir(t, filepath.Join(t.TempDir(), "s"))
	defer s.Close()
	if p, err := s.BackfillPending(); err != nil || p {
		t.Fatalf("BackfillPending = %v, %v", p, err)
	}
}

// BenchmarkSearchTwoWords: two-word queries, newest 20 results, over a
// store of 200,000 messages of 8 words from a Zipf-distributed vocabulary
// of 5,000 (the bench command measures 1,000,000: parley-bench --search).
func BenchmarkSearchTwoWords(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 2, 4999)
	g := gidOf("bench")
	const n = 200_000
	batch := make([]Message, 0, 1000)
	for i := uint64(1); i <= n; i++ {
		m := mkMsg(g, i, "a", i, i)
		for range 8 {
			m.Terms = append(m.Terms, fmt.Sprintf("w%d", zipf.Uint64()))
		}
		batch = append(batch, m)
		if len(batch) == cap(batch) {
			if _, err := s.AppendReceived(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := []string{fmt.Sprintf("w%d", zipf.Uint64()), fmt.Sprintf("w%d", zipf.Uint64())}
		searchAll(b, s, q, nil, 20)
	}
}

// BenchmarkAppendIndexCost: what the search postings add to storing
// received messages (batches of 256, 200-byte bodies), per message.
func BenchmarkAppendIndexCost(b *testing.B) {
	for _, nterms := range []int{0, 8, 30} {
		b.Run(fmt.Sprintf("terms=%d", nterms), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			g := gidOf("bench")
			raw := make([]byte, 200)
			n := uint64(0)
			batch := make([]Message, 256)
			for b.Loop() {
				for i := range batch {
					n++
					m := mkMsg(g, n, "a", n, n)
					m.Raw = raw
					for k := range nterms {
						m.Terms = append(m.Terms, fmt.Sprintf("w%d", (n*7+uint64(k)*13)%5000))
					}
					batch[i] = m
				}
				if _, err := s.AppendReceived(context.Background(), batch...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/msg")
		})
	}
}

// indexedFixture writes the fixture (writeFixture's records) with search terms on every message
// ("raw" and "n<number>"): testdata/v3 was written by this function (and
// writeFixture) at commit dca4ae8, schema 3, with
//
//	PARLEY_GEN_FIXTURE_V3=/tmp/fx go test -count=1 -run TestGenerateIndexedFixture ./store
func indexedFixture(t testing.TB, s *Store) {
	t.Helper()
	writeFixtureWith(t, s, func(m *Message) {
		n := strings.Split(string(m.Raw), ":")[2]
		m.Terms = []string{"raw", "n" + n}
	})
}

func TestGenerateIndexedFixture(t *testing.T) {
	dir := os.Getenv("PARLEY_GEN_FIXTURE_V3")
	if dir == "" {
		t.Skip("PARLEY_GEN_FIXTURE_V3 not set")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	indexedFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
