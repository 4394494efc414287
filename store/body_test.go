package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/crypto/chacha20poly1305"
)

// noise is n incompressible bytes after tag (never starting with 0x00).
func noise(tag string, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return append([]byte(tag), b...)
}

// sealedAt returns the m/ value stored for message id at lamport.
func sealedAt(t *testing.T, s *Store, g GroupID, lamport uint64, id MessageID) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('m', g[:], u64(lamport), id[:]))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// openWithFiles is the attack on an erased body: someone holding every
// file of the store, and the sealed value (left in the value log), tries
// every 32-byte window of every file as its key. It reports the file
// whose bytes open it ("" if none does).
func openWithFiles(t *testing.T, dir string, mk, sealed []byte) string {
	t.Helper()
	if !isSealed(sealed) || len(sealed) < sealOverhead {
		t.Fatalf("not a sealed value: %x", sealed[:min(len(sealed), 8)])
	}
	var nonce [chacha20poly1305.NonceSize]byte
	ad := sealedAD(mk, sealed[:sealedHeader])
	hit := ""
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || hit != "" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		nonzero := 0 // in the window b[i:i+32]: all-zero windows (sparse tails) are skipped
		for i := 0; i+chacha20poly1305.KeySize <= len(b); i++ {
			if i == 0 {
				for _, c := range b[:chacha20poly1305.KeySize] {
					if c != 0 {
						nonzero++
					}
				}
			} else {
				if b[i-1] != 0 {
					nonzero--
				}
				if b[i+chacha20poly1305.KeySize-1] != 0 {
					nonzero++
				}
			}
			if nonzero < 8 { // a random key has few zero bytes
				continue
			}
			aead, _ := chacha20poly1305.New(b[i : i+chacha20poly1305.KeySize])
			if _, err := aead.Open(nil, nonce[:], sealed[sealedHeader:], ad); err == nil {
				hit = filepath.Base(p)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hit
}

// A body long enough for the value log is sealed there, and erasing it
// leaves nothing in the store's files that opens it: the attack that opens
// it before the erase (key in the files) fails after, while a kept
// message still opens the same way.
func TestEraseShredsSealedBody(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := gidOf("shred")
	gone := mkMsg(g, 1, "ann", 1, 1)
	gone.Raw = noise("secret-body-", 600)
	kept := mkMsg(g, 2, "ann", 2, 2, gone.ID)
	kept.Raw = noise("kept-body-", 600)
	if _, err := s.Append(ctx, gone, kept); err != nil {
		t.Fatal(err)
	}
	goneMK, keptMK := key('m', g[:], u64(1), gone.ID[:]), key('m', g[:], u64(2), kept.ID[:])
	goneSealed, keptSealed := sealedAt(t, s, g, 1, gone.ID), sealedAt(t, s, g, 2, kept.ID)
	goneKey, err := s.BodyKey(g, gone.ID)
	if err != nil || len(goneKey) != chacha20poly1305.KeySize {
		t.Fatalf("BodyKey = %x, %v", goneKey, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if hits := filesContaining(t, dir, []byte("secret-body-")); len(hits) > 0 {
		t.Fatalf("a sealed body is in clear in %v", hits)
	}
	if hits := strings.Join(filesContaining(t, dir, goneSealed[sealedHeader:]), " "); !strings.Contains(hits, ".vlog") {
		t.Fatalf("the sealed body is not in the value log (in %q)", hits)
	}
	if f := openWithFiles(t, dir, goneMK, goneSealed); f == "" {
		t.Fatal("before the erase the attack opens nothing: it proves nothing")
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Erase(g, gone.ID); !ok || err != nil {
		t.Fatalf("Erase = %v, %v", ok, err)
	}
	if k, err := s.BodyKey(g, gone.ID); k != nil || err != nil {
		t.Fatalf("BodyKey after erase = %x, %v", k, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if hits := filesContaining(t, dir, goneKey); len(hits) > 0 {
		t.Fatalf("the erased body's key is still in %v", hits)
	}
	if f := openWithFiles(t, dir, goneMK, goneSealed); f != "" {
		t.Fatalf("the erased body still opens with bytes of %s", f)
	}
	if f := openWithFiles(t, dir, keptMK, keptSealed); f == "" {
		t.Fatal("the kept body no longer opens with its files: the attack proves nothing")
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := s.Get(g, kept.ID); err != nil || !bytes.Equal(st.Raw, kept.Raw) {
		t.Fatalf("kept message after reopen: %v", err)
	}
	if st, err := s.Get(g, gone.ID); err != nil || !st.Erased {
		t.Fatalf("erased message after reopen: %+v, %v", st, err)
	}
}

// A sealed body opens only at its own key: bodies (with their keys) moved
// to another message's place are refused, not handed out as that message.
func TestSealedBodyBoundToItsKey(t *testing.T) {
	s := openMem(t)
	g := gidOf("bound")
	a, b := mkMsg(g, 1, "ann", 1, 1), mkMsg(g, 2, "ann", 2, 2)
	a.Raw, b.Raw = noise("a-", 400), noise("b-", 400)
	mustAppend(t, s, a, b)
	ak, bk := key('m', g[:], u64(1), a.ID[:]), key('m', g[:], u64(2), b.ID[:])
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, p := range [][2][]byte{{ak, bk}, {bodyKeyOf(ak), bodyKeyOf(bk)}} {
			item, err := txn.Get(p[0])
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := txn.Set(p[1], v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.Get(g, b.ID); err == nil || !strings.Contains(err.Error(), "corrupt sealed body") {
		t.Fatalf("Get of a moved body = %q, %v", st.Raw, err)
	}
	if st, err := s.Get(g, a.ID); err != nil || !bytes.Equal(st.Raw, a.Raw) {
		t.Fatalf("Get(a) = %v", err)
	}
}

// Bodies round-trip whether short (raw), compressible or not, and at the
// largest size.
func TestSealedBodiesRoundTrip(t *testing.T) {
	s := openMem(t)
	g := gidOf("round")
	raws := [][]byte{
		[]byte("short"),
		bytes.Repeat([]byte("x"), valueLogFrom-1),
		bytes.Repeat([]byte("compressible "), 100),
		noise("n", valueLogFrom),
		noise("big", maxRawLen-3),
	}
	var prev []MessageID
	for i, raw := range raws {
		m := mkMsg(g, uint64(i+1), "ann", uint64(i+1), uint64(i+1), prev...)
		m.Raw = raw
		mustAppend(t, s, m)
		prev = []MessageID{m.ID}
		st, err := s.Get(g, m.ID)
		if err != nil || !bytes.Equal(st.Raw, raw) {
			t.Fatalf("raw %d (%d bytes): %v", i, len(raw), err)
		}
		k, err := s.BodyKey(g, m.ID)
		if err != nil || (k != nil) != (len(raw) >= valueLogFrom) {
			t.Fatalf("raw %d (%d bytes): BodyKey %x, %v", i, len(raw), k, err)
		}
	}
}

// FuzzOpenBody: a damaged sealed value is an error, never a panic or an
// unbounded allocation.
func FuzzOpenBody(f *testing.F) {
	mk := key('m', make([]byte, GroupIDLen+8+MessageIDLen))
	good, k, err := sealBody(mk, bytes.Repeat([]byte("body "), 100))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{sealedTag, sealedS2})
	f.Add([]byte{sealedTag})
	s := openMem(f)
	f.Fuzz(func(t *testing.T, v []byte) {
		err := s.db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(bodyKeyOf(mk), k); err != nil {
				return err
			}
			_, err := openBody(pointKeys(txn), mk, v)
			if err != nil && !strings.Contains(err.Error(), "corrupt sealed body") {
				return err
			}
			return nil
		})
		if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			t.Fatal(err)
		}
	})
}

func valueLogBytes(t *testing.T, dir string) int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// Overwritten values leave dead bytes in the value log; the collector
// rewrites the files they fill and deletes them, keeping the live values.
func TestValueLogCollected(t *testing.T) {
	dir := t.TempDir()
	small := func(o *options) { o.vlogSize = 1 << 20 }
	s, err := Open(dir, small)
	if err != nil {
		t.Fatal(err)
	}
	var last []byte
	for round := range 6 { // 4.8 MB through the value log, one key
		for i := range 200 {
			last = append(noise("v", 4000), byte(round), byte(i))
			if err := s.PutSetting("big", last); err != nil {
				t.Fatal(err)
			}
		}
		// Close flushes the memtable, every version, to a level-0 table;
		// six of them are more than Badger lets level 0 hold.
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err = Open(dir, small); err != nil {
			t.Fatal(err)
		}
	}
	defer s.Close()
	// The compaction drops the old versions and counts the bytes they leave dead.
	if err := s.db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	before := valueLogBytes(t, dir)
	s.collectValueLog()
	after := valueLogBytes(t, dir)
	if after >= before/2 {
		t.Fatalf("value log %d bytes before collection, %d after", before, after)
	}
	if v, err := s.Setting("big"); err != nil || !bytes.Equal(v, last) {
		t.Fatalf("the live value after collection: %v", err)
	}
}

// After walks the bodies' keys in step with the messages (walkKeys): over
// raw, sealed and erased bodies mixed, from the start and from a cursor, it
// reads what Get reads.
func TestAfterOpensSealedBodiesInStep(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	g := gidOf("walk")
	var msgs []Message
	var prev []MessageID
	for i := range 60 {
		m := mkMsg(g, uint64(i+1), "ann", uint64(i+1), uint64(i+1), prev...)
		switch {
		case i%3 == 0:
			m.Raw = []byte{'r', byte(i)} // raw
		case i%7 == 0:
			m.Raw = noise("z", 50+i) // raw until 256 bytes
		default:
			m.Raw = noise("s", valueLogFrom+i) // sealed
		}
		msgs = append(msgs, m)
		prev = []MessageID{m.ID}
	}
	if _, err := s.Append(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{4, 5, 30, 59} {
		if ok, err := s.Erase(g, msgs[i].ID); !ok || err != nil {
			t.Fatalf("Erase %d: %v %v", i, ok, err)
		}
	}
	for _, from := range []int{-1, 0, 10, 31} {
		var cur *Cursor
		if from >= 0 {
			cur = &Cursor{Lamport: msgs[from].Lamport, ID: msgs[from].ID}
		}
		n := from + 1
		err := s.After(g, cur, func(st Stored) bool {
			want, err := s.Get(g, msgs[n].ID)
			if err != nil || st.ID != msgs[n].ID || st.Erased != want.Erased || !bytes.Equal(st.Raw, want.Raw) {
				t.Fatalf("After from %d: message %d = %+v, Get %+v %v", from, n, st.ID, want.ID, err)
			}
			if !st.Erased && !bytes.Equal(st.Raw, msgs[n].Raw) {
				t.Fatalf("After from %d: message %d has the wrong body", from, n)
			}
			n++
			return true
		})
		if err != nil || n != len(msgs) {
			t.Fatalf("After from %d: stopped at %d, %v", from, n, err)
		}
	}
}
