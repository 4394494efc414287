package store

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/argon2"
)

// Errors of encryption at rest.
var (
	// ErrPassphraseRequired means the store is encrypted and Open was given
	// no passphrase.
	ErrPassphraseRequired = errors.New("store: encrypted, passphrase required")
	// ErrWrongPassphrase means the passphrase does not match the store's.
	// Nothing in the store was read or written beyond its key file.
	ErrWrongPassphrase = errors.New("store: wrong passphrase")
	// ErrNotEncrypted means a passphrase was given for a store created
	// without one. Converting a store is not supported.
	ErrNotEncrypted = errors.New("store: store is not encrypted, but a passphrase was given")
)

// keyFileName is the clear JSON file in an encrypted store's directory that
// says how its key is derived from the passphrase (salt, Argon2id
// parameters) and holds a check value. It holds nothing secret.
const keyFileName = "parley-key.json"

// keyRotation is how often Badger makes a new data key (its default); the
// data keys are kept in its KEYREGISTRY, encrypted with the master key.
const keyRotation = 10 * 24 * time.Hour

// keyFile is the versioned content of keyFileName.
type keyFile struct {
	Version   int    `json:"version"`
	KDF       string `json:"kdf"`
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Check     []byte `json:"check"` // HMAC-SHA256 of checkLabel under the check subkey
}

const (
	keyFileVersion = 1
	kdfArgon2id    = "argon2id"
	checkLabel     = "parley store key check v1"
	maxKDFMemory   = 4 << 20 // KiB: a key file cannot make Open allocate more than 4 GiB
	maxKDFTime     = 64
)

// kdfDefaults are the Argon2id costs of new stores (about 0.6 s on a busy
// 2-core machine). Tests lower them.
var kdfDefaults = keyFile{Time: 3, MemoryKiB: 64 << 10, Threads: 2}

var errBadKeyFile = errors.New("store: malformed key file")

// decodeKeyFile parses and checks a key file.
func decodeKeyFile(b []byte) (keyFile, error) {
	var k keyFile
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&k); err != nil {
		return keyFile{}, fmt.Errorf("%w: %v", errBadKeyFile, err)
	}
	if d.More() {
		return keyFile{}, fmt.Errorf("%w: trailing data", errBadKeyFile)
	}
	switch {
	case k.Version > keyFileVersion:
		return keyFile{}, fmt.Errorf("%w: key file version %d, this binary knows %d", ErrNewerSchema, k.Version, keyFileVersion)
	case k.Version != keyFileVersion:
		return keyFile{}, fmt.Errorf("%w: version %d", errBadKeyFile, k.Version)
	case k.KDF != kdfArgon2id:
		return keyFile{}, fmt.Errorf("%w: kdf %q", errBadKeyFile, k.KDF)
	case len(k.Salt) < 16 || len(k.Salt) > 64:
		return keyFile{}, fmt.Errorf("%w: salt of %d bytes", errBadKeyFile, len(k.Salt))
	case k.Time < 1 || k.Time > maxKDFTime:
		return keyFile{}, fmt.Errorf("%w: time %d", errBadKeyFile, k.Time)
	case k.Threads < 1:
		return keyFile{}, fmt.Errorf("%w: threads %d", errBadKeyFile, k.Threads)
	case k.MemoryKiB < 8*uint32(k.Threads) || k.MemoryKiB > maxKDFMemory:
		return keyFile{}, fmt.Errorf("%w: memory %d KiB", errBadKeyFile, k.MemoryKiB)
	case len(k.Check) != sha256.Size:
		return keyFile{}, fmt.Errorf("%w: check of %d bytes", errBadKeyFile, len(k.Check))
	}
	return k, nil
}

// derive returns the Badger master key and the check value for passphrase.
func (k *keyFile) derive(passphrase string) (dbKey, check []byte, err error) {
	master := argon2.IDKey([]byte(passphrase), k.Salt, k.Time, k.MemoryKiB, k.Threads, 32)
	defer clear(master)
	dbKey, err = hkdf.Key(sha256.New, master, nil, "parley store: badger key", 32)
	if err != nil {
		return nil, nil, err
	}
	ck, err := hkdf.Key(sha256.New, master, nil, "parley store: key check", 32)
	if err != nil {
		return nil, nil, err
	}
	defer clear(ck)
	mac := hmac.New(sha256.New, ck)
	mac.Write([]byte(checkLabel))
	return dbKey, mac.Sum(nil), nil
}

// newKeyFile makes a key file with a fresh salt for passphrase.
func newKeyFile(passphrase string) (keyFile, []byte, error) {
	k := kdfDefaults
	k.Version, k.KDF, k.Salt = keyFileVersion, kdfArgon2id, make([]byte, 16)
	rand.Read(k.Salt)
	dbKey, check, err := k.derive(passphrase)
	k.Check = check
	return k, dbKey, err
}

// storeKey returns the Badger encryption key for the store in dir, or nil
// for an unencrypted store. It reads only the key file (and looks for
// Badger's MANIFEST): a refused passphrase leaves every file as it was. A
// new store opened with a passphrase gets its key file here, before Badger
// creates anything.
func storeKey(dir, passphrase string) ([]byte, error) {
	path := filepath.Join(dir, keyFileName)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if passphrase == "" {
			return nil, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err == nil {
			return nil, ErrNotEncrypted
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		k, dbKey, err := newKeyFile(passphrase)
		if err != nil {
			return nil, err
		}
		if err := writeKeyFile(dir, k); err != nil {
			return nil, err
		}
		return dbKey, nil
	case err != nil:
		return nil, err
	}
	k, err := decodeKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if passphrase == "" {
		return nil, ErrPassphraseRequired
	}
	dbKey, check, err := k.derive(passphrase)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(check, k.Check) {
		clear(dbKey)
		return nil, ErrWrongPassphrase
	}
	return dbKey, nil
}

// writeKeyFile writes k durably and atomically (temporary file, fsync,
// rename, fsync of the directory).
func writeKeyFile(dir string, k keyFile) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, keyFileName+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file, harmless
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if err = errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, keyFileName)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// IsEncrypted reports whether the store in dir was created with a
// passphrase, so a caller knows whether to ask for one before Open.
func IsEncrypted(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, keyFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
