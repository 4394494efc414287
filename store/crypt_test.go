package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// hashDir maps every file under dir to the hash of its content.
func hashDir(t testing.TB, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// findInDir returns which of needles occur in some file under dir.
func findInDir(t testing.TB, dir string, needles []string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				found = append(found, n+" in "+d.Name())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func openPass(t testing.TB, dir, pass string) *Store {
	t.Helper()
	s, err := Open(dir, WithPassphrase(pass))
	if err != nil {
		t.Fatalf("Open %s with passphrase: %v", dir, err)
	}
	return s
}

// secrets are written in clear by the caller and must not reach the disk
// in clear when the store is encrypted.
type secrets struct {
	small, large, setting, groupSecret string
}

func newSecrets() secrets {
	r := func(tag string) string { return tag + "-" + rand.Text() } // unique: found only where written
	return secrets{r("small-message"), r("large-message"), r("setting-secret"), r("group-secret")}
}

// needles are the byte strings a scan looks for: the group secret as the
// JSON record holds it (base64).
func (x secrets) needles() []string {
	return []string{x.small, x.large, x.setting, base64.StdEncoding.EncodeToString([]byte(x.groupSecret))}
}

// writeSecrets writes a small message (inline in the LSM tree), a large one
// (in the value log), a setting and a group, all holding known strings.
func writeSecrets(t testing.TB, s *Store, x secrets) {
	t.Helper()
	g := gidOf("secret-group")
	small := mkMsg(g, 1, "alice", 1, 1)
	small.Raw = []byte("body:" + x.small)
	large := mkMsg(g, 2, "alice", 2, 2, small.ID)
	large.Raw = append(bytes.Repeat([]byte{'.'}, 4096), x.large...)
	if _, err := s.Append(context.Background(), small, large); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting("identity", []byte(x.setting)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroup(Group{ID: g, Name: "secret", Secret: []byte(x.groupSecret)}); err != nil {
		t.Fatal(err)
	}
}

func checkSecrets(t testing.TB, s *Store, x secrets) {
	t.Helper()
	g := gidOf("secret-group")
	if m, err := s.Get(g, idOf(1)); err != nil || string(m.Raw) != "body:"+x.small {
		t.Fatalf("small message: %q, %v", m.Raw, err)
	}
	if m, err := s.Get(g, idOf(2)); err != nil || !bytes.HasSuffix(m.Raw, []byte(x.large)) {
		t.Fatalf("large message: %v", err)
	}
	if v, err := s.Setting("identity"); err != nil || string(v) != x.setting {
		t.Fatalf("setting: %q, %v", v, err)
	}
	if gr, err := s.GetGroup(g); err != nil || string(gr.Secret) != x.groupSecret {
		t.Fatalf("group: %+v, %v", gr, err)
	}
}

// TestEncryptedAtRest scans every byte of every file for strings the store
// was given, while open (write-ahead log, value log) and after Close
// (tables): an unencrypted store shows them (so the scan works), an
// encrypted one never does, and reopening with the passphrase reads them.
func TestEncryptedAtRest(t *testing.T) {
	x := newSecrets()
	for _, pass := range []string{"", "correct horse battery staple"} {
		dir := t.TempDir()
		// A small value log: the scan reads every file while open, and
		// Badger maps the value log at twice its size.
		s, err := Open(dir, WithPassphrase(pass), func(o *options) { o.vlogSize = 1 << 20 })
		if err != nil {
			t.Fatal(err)
		}
		if s.Encrypted() != (pass != "") {
			t.Fatalf("Encrypted() = %v with passphrase %q", s.Encrypted(), pass)
		}
		writeSecrets(t, s, x)
		found := findInDir(t, dir, x.needles())
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		found = append(found, findInDir(t, dir, x.needles())...)
		if pass == "" {
			for _, n := range x.needles() {
				if !strings.Contains(strings.Join(found, "\n"), n) {
					t.Fatalf("unencrypted store: %q not found on disk, so the scan proves nothing (found %q)", n, found)
				}
			}
			if ok, err := IsEncrypted(dir); ok || err != nil {
				t.Fatalf("IsEncrypted of a clear store = %v, %v", ok, err)
			}
			continue
		}
		if len(found) > 0 {
			t.Fatalf("encrypted store holds in clear: %q", found)
		}
		if ok, err := IsEncrypted(dir); !ok || err != nil {
			t.Fatalf("IsEncrypted = %v, %v", ok, err)
		}
		for range 2 {
			s := openPass(t, dir, pass)
			if !s.Encrypted() {
				t.Fatal("reopened store not Encrypted()")
			}
			checkSecrets(t, s, x)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPassphraseRefused: a wrong or missing passphrase is refused before
// Badger opens, leaving every file byte for byte as it was.
func TestPassphraseRefused(t *testing.T) {
	dir := t.TempDir()
	s := openPass(t, dir, "right")
	writeFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := hashDir(t, dir)
	for _, c := range []struct {
		opts []Option
		want error
	}{
		{[]Option{WithPassphrase("wrong")}, ErrWrongPassphrase},
		{[]Option{WithPassphrase("Right")}, ErrWrongPassphrase},
		{nil, ErrPassphraseRequired},
		{[]Option{WithPassphrase("")}, ErrPassphraseRequired},
	} {
		if _, err := Open(dir, c.opts...); !errors.Is(err, c.want) {
			t.Fatalf("Open: %v, want %v", err, c.want)
		}
		if after := hashDir(t, dir); !reflect.DeepEqual(before, after) {
			t.Fatalf("files changed by a refused Open:\nbefore %v\nafter  %v", before, after)
		}
	}
	s = openPass(t, dir, "right")
	verifyFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTamperedKeyFile: a changed salt or cost makes the check fail (the
// wrong key is never handed to Badger); a broken file is reported as such.
func TestTamperedKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := openPass(t, dir, "right")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, keyFileName)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := decodeKeyFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	salt := append([]byte(nil), k.Salt...)
	salt[0] ^= 1
	for _, c := range []struct {
		name   string
		mutate func(*keyFile)
	}{
		{"salt", func(k *keyFile) { k.Salt = salt }},
		{"time", func(k *keyFile) { k.Time++ }},
	} {
		m := k
		c.mutate(&m)
		b, _ := json.Marshal(m)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, WithPassphrase("right")); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("%s changed: %v", c.name, err)
		}
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, WithPassphrase("right")); !errors.Is(err, errBadKeyFile) {
		t.Fatalf("broken key file: %v", err)
	}
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openPass(t, dir, "right")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPassphraseOnClearStore: converting is not supported, so a passphrase
// for an unencrypted store is an error, and nothing is written.
func TestPassphraseOnClearStore(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	writeFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := hashDir(t, dir)
	if _, err := Open(dir, WithPassphrase("p")); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("Open: %v", err)
	}
	if after := hashDir(t, dir); !reflect.DeepEqual(before, after) {
		t.Fatal("files changed")
	}
	s = openDir(t, dir)
	defer s.Close()
	if s.Encrypted() {
		t.Fatal("Encrypted() on a clear store")
	}
	verifyFixture(t, s)
}

func TestEncryptedInMemory(t *testing.T) {
	s, err := Open("", InMemory(), WithPassphrase("p"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Encrypted() {
		t.Fatal("not Encrypted()")
	}
	writeFixture(t, s)
	verifyFixture(t, s)
}

func FuzzDecodeKeyFile(f *testing.F) {
	k, _, err := newKeyFile("seed")
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(k)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"kdf":"argon2id","salt":"AAAAAAAAAAAAAAAAAAAAAA==","time":1,"memory_kib":8,"threads":1,"check":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKeyFile(b)
		if err != nil {
			if !errors.Is(err, errBadKeyFile) && !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// What decodes is within the bounds Open may spend on Argon2id and
		// survives a round trip.
		if k.MemoryKiB > maxKDFMemory || k.Time > maxKDFTime || k.Threads == 0 {
			t.Fatalf("accepted costs %+v", k)
		}
		again, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		if k2, err := decodeKeyFile(again); err != nil || !reflect.DeepEqual(k, k2) {
			t.Fatalf("round trip: %+v, %v", k2, err)
		}
	})
}
