package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// copyDir copies a fixture into a fresh temporary directory (Open writes).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, d.Name()), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// rawDB opens dir with plain Badger, below the store, to look at its keys.
func rawDB(t testing.TB, dir string, fn func(db *badger.DB)) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fn(db)
}

func countPrefix(t testing.TB, db *badger.DB, prefix byte) int {
	t.Helper()
	n := 0
	if err := scanKeys(db, prefix, func([]byte) { n++ }); err != nil {
		t.Fatal(err)
	}
	return n
}

func schemaOf(t testing.TB, db *badger.DB) uint64 {
	t.Helper()
	v, err := readSchema(db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifyFixture checks that s holds exactly what writeFixture wrote.
func verifyFixture(t testing.TB, s *Store) {
	t.Helper()
	groups, err := s.Groups()
	wantGroups := fixtureGroups() // in key order
	slices.SortFunc(wantGroups, func(a, b Group) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	if err != nil || !reflect.DeepEqual(groups, wantGroups) {
		t.Fatalf("Groups = %+v, %v", groups, err)
	}
	for k, v := range fixtureSettings {
		if got, err := s.Setting(k); err != nil || string(got) != v {
			t.Fatalf("Setting %s = %q, %v", k, got, err)
		}
	}
	if ps, err := s.Peers(); err != nil || !reflect.DeepEqual(ps, []Peer{fixturePeer}) {
		t.Fatalf("Peers = %+v, %v", ps, err)
	}
	if ps, err := s.BootstrapPeers(); err != nil || !reflect.DeepEqual(ps, []Peer{fixturePeer}) {
		t.Fatalf("BootstrapPeers = %+v, %v", ps, err)
	}
	if ms, err := s.Members(fixtureAlpha); err != nil || !reflect.DeepEqual(ms, []Member{fixtureMember}) {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	alpha, beta := fixtureMessages()
	for _, c := range []struct {
		g     GroupID
		msgs  []Message
		heads map[MessageID]bool
		miss  map[MessageID]bool
		vec   map[string]uint64
	}{
		{fixtureAlpha, alpha, setOf(idOf(30)), setOf(fixtureGap), map[string]uint64{"alice": 15, "bob": 15}},
		{fixtureBeta, beta, setOf(idOf(110)), setOf(), map[string]uint64{"carol": 10}},
	} {
		want := make([]Stored, len(c.msgs))
		for i, m := range c.msgs {
			want[i] = storedOf(m)
			if got, err := s.Get(c.g, m.ID); err != nil || !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("Get %d = %+v, %v", i, got, err)
			}
		}
		if got := history(t, s, c.g, nil, 100); !reflect.DeepEqual(got, want) {
			t.Fatalf("History of %x: %d messages, want %d", c.g[:4], len(got), len(want))
		}
		if st := stats(t, s, c.g); st.Count != uint64(len(c.msgs)) || st.MaxLamport != c.msgs[len(c.msgs)-1].Lamport {
			t.Fatalf("GroupStats = %+v", st)
		}
		if h := heads(t, s, c.g); !reflect.DeepEqual(h, c.heads) {
			t.Fatalf("Heads = %v", h)
		}
		if m := missing(t, s, c.g); !reflect.DeepEqual(m, c.miss) {
			t.Fatalf("Missing = %v", m)
		}
		if v := vector(t, s, c.g); !reflect.DeepEqual(v, c.vec) {
			t.Fatalf("Vector = %v", v)
		}
		// Messages held before arrivals were indexed are numbered in history order.
		if got := arrivedAfter(t, s, c.g, 0); !reflect.DeepEqual(got, want) {
			t.Fatalf("ArrivedAfter(0) of %x: %d messages, want %d in history order", c.g[:4], len(got), len(want))
		}
		if got := arrivedAfter(t, s, c.g, 3); !reflect.DeepEqual(got, want[3:]) {
			t.Fatalf("ArrivedAfter(3) of %x: %d messages, want %d", c.g[:4], len(got), len(want)-3)
		}
	}
}

func arrivedAfter(t testing.TB, s *Store, g GroupID, n uint64) []Stored {
	t.Helper()
	var out []Stored
	if err := s.ArrivedAfter(g, n, func(st Stored) bool { out = append(out, st); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUpgradeFromV1 opens stores written by the code before schema
// versions (testdata, see fixture_test.go), checks that every record reads,
// and that the store is at the current version after one Open and stays
// readable across reopening.
func TestUpgradeFromV1(t *testing.T) {
	for _, fx := range []struct {
		dir   string
		rkeys bool
	}{{"testdata/v1", false}, {"testdata/v1-rkeys", true}} {
		t.Run(filepath.Base(fx.dir), func(t *testing.T) {
			dir := copyDir(t, fx.dir)
			rawDB(t, dir, func(db *badger.DB) {
				if v := schemaOf(t, db); v != 1 {
					t.Fatalf("fixture schema = %d, want 1", v)
				}
				if n := countPrefix(t, db, 'r'); (n > 0) != fx.rkeys {
					t.Fatalf("fixture has %d r/ keys", n)
				}
			})
			for range 2 {
				s := openDir(t, dir)
				verifyFixture(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				rawDB(t, dir, func(db *badger.DB) {
					if v := schemaOf(t, db); v != SchemaVersion {
						t.Fatalf("schema after Open = %d, want %d", v, SchemaVersion)
					}
					if n := countPrefix(t, db, 'r'); n != 0 {
						t.Fatalf("%d r/ keys left", n)
					}
				})
			}
			// The upgraded store takes new writes.
			s := openDir(t, dir)
			defer s.Close()
			m := mkMsg(fixtureAlpha, 31, "alice", 16, 31, idOf(30))
			if ins := mustAppend(t, s, m); !ins[0] {
				t.Fatal("new message not inserted")
			}
			if h := heads(t, s, fixtureAlpha); !reflect.DeepEqual(h, setOf(m.ID)) {
				t.Fatalf("Heads = %v", h)
			}
		})
	}
}

// TestMigrationCrash stops the v1->v2 migration after some of its
// transactions (as a crash would), then checks that the store is still
// version 1 with part of the work done, and that the next Open finishes it.
func TestMigrationCrash(t *testing.T) {
	dir := copyDir(t, "testdata/v1-rkeys")
	var total int
	rawDB(t, dir, func(db *badger.DB) { total = countPrefix(t, db, 'r') })
	const chunk = 5
	if total < 3*chunk {
		t.Fatalf("fixture has only %d r/ keys", total)
	}
	openCrashing(t, dir, 2, chunk, 1)
	rawDB(t, dir, func(db *badger.DB) {
		if v := schemaOf(t, db); v != 1 {
			t.Fatalf("schema after a crash = %d, want 1", v)
		}
		if n := countPrefix(t, db, 'r'); n != total-2*chunk {
			t.Fatalf("%d r/ keys after a crash, want %d", n, total-2*chunk)
		}
	})

	s := openDir(t, dir)
	verifyFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawDB(t, dir, func(db *badger.DB) {
		if v, n := schemaOf(t, db), countPrefix(t, db, 'r'); v != SchemaVersion || n != 0 {
			t.Fatalf("after resuming: schema %d, %d r/ keys", v, n)
		}
	})
}

// openCrashing opens dir with the migration to version to stopped after
// its transaction number after (counting from 0; -1: before any commits),
// in transactions of chunk keys (0: the default), as a crash would; the
// Open must fail with that crash. The knobs are restored after.
func openCrashing(t testing.TB, dir string, to uint64, chunk, after int) {
	t.Helper()
	crash := errors.New("injected crash")
	oldChunk := migrateChunk
	if chunk > 0 {
		migrateChunk = chunk
	}
	migrateFault = func(v uint64, n int) error {
		if v == to && n >= after {
			return crash
		}
		return nil
	}
	defer func() { migrateChunk, migrateFault = oldChunk, nil }()
	if s, err := Open(dir); !errors.Is(err, crash) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open with a crash mid-migration: %v", err)
	}
}

// TestNewStoreIsCurrent: a new store is marked current at once, in memory
// too, and a store marked by a newer binary is refused untouched.
func TestNewStoreIsCurrent(t *testing.T) {
	s := openMem(t)
	if v := schemaOf(t, s.db); v != SchemaVersion {
		t.Fatalf("in-memory schema = %d", v)
	}
	dir := t.TempDir()
	s = openDir(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawDB(t, dir, func(db *badger.DB) {
		if v := schemaOf(t, db); v != SchemaVersion {
			t.Fatalf("new store schema = %d", v)
		}
	})
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	writeFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := uint64(SchemaVersion + 1)
	rawDB(t, dir, func(db *badger.DB) {
		if err := db.Update(func(txn *badger.Txn) error { return setSchema(txn, newer) }); err != nil {
			t.Fatal(err)
		}
	})
	for range 2 { // refused, and still refused: nothing was changed
		_, err := Open(dir)
		if !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("Open of a newer store: %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, fmt.Sprint(newer)) || !strings.Contains(msg, fmt.Sprint(SchemaVersion)) {
			t.Fatalf("error does not name both versions: %s", msg)
		}
	}
	rawDB(t, dir, func(db *badger.DB) {
		if v := schemaOf(t, db); v != newer {
			t.Fatalf("schema = %d", v)
		}
	})
}

func TestMigrationsContiguous(t *testing.T) {
	for i, m := range migrations {
		if m.to != uint64(i+2) {
			t.Fatalf("migration %d goes to %d, want %d", i, m.to, i+2)
		}
	}
	if migrations[len(migrations)-1].to != SchemaVersion {
		t.Fatalf("last migration goes to %d, SchemaVersion is %d", migrations[len(migrations)-1].to, SchemaVersion)
	}
}

func FuzzDecodeSchemaVersion(f *testing.F) {
	f.Add(u64(1))
	f.Add(u64(SchemaVersion))
	f.Add([]byte{})
	f.Add(make([]byte, 8))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeSchemaVersion(b)
		if err != nil {
			if v != 0 || !errors.Is(err, errBadSchema) {
				t.Fatalf("error %v with version %d", err, v)
			}
			return
		}
		if v == 0 || !bytes.Equal(u64(v), b) {
			t.Fatalf("decoded %d from %x", v, b)
		}
	})
}
