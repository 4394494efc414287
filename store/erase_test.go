package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// filesContaining lists the files under dir whose bytes contain needle.
func filesContaining(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, filepath.Base(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestEraseRemovesBodyFromFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := gidOf("erase")
	secret := []byte("erase-me-" + strings.Repeat("x", 40))
	long := append([]byte("long-secret-"), bytes.Repeat([]byte("y"), 3000)...) // above the old 1 KiB threshold
	m1 := mkMsg(g, 1, "ann", 1, 1)
	m1.Raw = secret
	m2 := mkMsg(g, 2, "ann", 2, 2, m1.ID)
	m2.Raw = long
	m3 := mkMsg(g, 3, "ann", 3, 3, m2.ID)
	if _, err := s.Append(ctx, m1, m2, m3); err != nil {
		t.Fatal(err)
	}
	// Flush the memtable to tables too, so both paths are covered.
	if len(filesContaining(t, dir, secret)) == 0 {
		t.Fatal("the body is not in any file before erasure: the test proves nothing")
	}
	for _, id := range []MessageID{m1.ID, m2.ID} {
		ok, err := s.Erase(g, id)
		if err != nil || !ok {
			t.Fatalf("Erase: %v %v", ok, err)
		}
	}
	if ok, err := s.Erase(g, m1.ID); ok || err != nil {
		t.Fatalf("second Erase: %v %v", ok, err)
	}
	h, err := s.History(g, nil, 10)
	if err != nil || len(h) != 3 || !h[0].Erased || h[0].Raw != nil || !h[1].Erased || h[2].Erased {
		t.Fatalf("history after erase: %+v %v", h, err)
	}
	if st, err := s.Get(g, m1.ID); err != nil || !st.Erased {
		t.Fatalf("Get: %+v %v", st, err)
	}
	// Still held: a copy arriving again is a duplicate.
	ins, err := s.AppendReceived(ctx, m1)
	if err != nil || ins[0] {
		t.Fatalf("re-append of an erased message: %v %v", ins, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range [][]byte{secret, []byte("long-secret-")} {
		if hits := filesContaining(t, dir, n); len(hits) > 0 {
			t.Fatalf("%q still in %v after erasure", n[:10], hits)
		}
	}
	if hits := filesContaining(t, dir, rawOf(g, 3)); len(hits) == 0 {
		t.Fatal("an untouched message vanished from the files")
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err = s.History(g, nil, 10)
	if err != nil || len(h) != 3 || !h[0].Erased || string(h[2].Raw) != string(rawOf(g, 3)) {
		t.Fatalf("history after reopen: %+v %v", h, err)
	}
}

func TestAppendErasedCountsSeqHeld(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	defer s.Close()
	g := gidOf("tomb")
	m1 := mkMsg(g, 1, "bob", 1, 1)
	m2 := mkMsg(g, 2, "bob", 2, 2, m1.ID)
	// m2 names m1 as parent: m1 is a gap until the tombstone fills it.
	if _, err := s.AppendReceived(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if miss, _ := s.Missing(g, 10); len(miss) != 1 || miss[0] != m1.ID {
		t.Fatalf("missing before: %x", miss)
	}
	ok, err := s.AppendErased(ctx, m1)
	if err != nil || !ok {
		t.Fatalf("AppendErased: %v %v", ok, err)
	}
	vec, err := s.Vector(g)
	if err != nil || len(vec) != 1 || vec[0].Seq != 2 {
		t.Fatalf("vector: %+v %v", vec, err)
	}
	if miss, _ := s.Missing(g, 10); len(miss) != 0 {
		t.Fatalf("still missing: %x", miss)
	}
	heads, _ := s.Heads(g, 10)
	if len(heads) != 1 || heads[0] != m2.ID {
		t.Fatalf("heads: %x", heads)
	}
	// The original arriving late stays erased.
	ins, err := s.AppendReceived(ctx, m1)
	if err != nil || ins[0] {
		t.Fatalf("late original stored: %v %v", ins, err)
	}
	st, err := s.Get(g, m1.ID)
	if err != nil || !st.Erased {
		t.Fatalf("Get: %+v %v", st, err)
	}
	var rel int
	_ = s.Related(g, m1.ID, func(Stored) bool { rel++; return true })
	if rel != 0 {
		t.Fatal("an erased message indexed relations")
	}
}

func FuzzIDsWithPrefix(f *testing.F) {
	s := openMem(f)
	defer s.Close()
	g := gidOf("fz")
	for n := uint64(1); n <= 20; n++ {
		if _, err := s.Append(context.Background(), mkMsg(g, n, "ann", n, n)); err != nil {
			f.Fatal(err)
		}
	}
	f.Add("")
	f.Add("0")
	f.Add(strings.Repeat("ab", 40))
	f.Add(hexOf(idOf(3))[:9])
	f.Fuzz(func(t *testing.T, p string) {
		ids, err := s.IDsWithPrefix(g, p, 30)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if !strings.HasPrefix(hexOf(id), strings.ToLower(p)) {
				t.Fatalf("%x does not start with %q", id, p)
			}
		}
		if len(p) >= 8 && len(p) <= 64 {
			want := 0
			for n := uint64(1); n <= 20; n++ {
				if strings.HasPrefix(hexOf(idOf(n)), strings.ToLower(p)) {
					want++
				}
			}
			if len(ids) != want {
				t.Fatalf("%q: %d ids, brute force %d", p, len(ids), want)
			}
		}
	})
}

func hexOf(id MessageID) string { return hex.EncodeToString(id[:]) }
