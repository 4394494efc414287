package profile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/parley-chat/parley/store"
)

// DefaultName is the profile used when --profile is not given.
const DefaultName = "default"

// ErrLocked means the store is open in another process (Badger allows one).
var ErrLocked = errors.New("the profile's store is in use by another process")

// ErrNoRuntime means no api.json/token exists: no node is running (or it has
// not finished starting).
var ErrNoRuntime = errors.New("no running node")

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Home returns $PARLEY_HOME, or ~/.parley when it is unset.
func Home() (string, error) {
	if h := os.Getenv("PARLEY_HOME"); h != "" {
		return h, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find home directory (set PARLEY_HOME): %w", err)
	}
	return filepath.Join(home, ".parley"), nil
}

// Profile is one profile directory.
type Profile struct {
	Name string // profile name
	Dir  string // $PARLEY_HOME/<name>
}

// Open returns the named profile, creating its directory (mode 0700) if needed.
func Open(name string) (*Profile, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("invalid profile name %q: use letters, digits, '.', '_' or '-'", name)
	}
	home, err := Home()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(home, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create profile directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("profile directory: %w", err)
	}
	return &Profile{Name: name, Dir: dir}, nil
}

// StoreDir is the Badger directory (node.StoreDir of the profile directory).
func (p *Profile) StoreDir() string { return filepath.Join(p.Dir, "store") }

// APIFile is the path of api.json, written while a node runs.
func (p *Profile) APIFile() string { return filepath.Join(p.Dir, "api.json") }

// TokenFile is the path of the control API token, written while a node runs.
func (p *Profile) TokenFile() string { return filepath.Join(p.Dir, "token") }

// OpenStore opens the profile's store. If another process holds it, the
// error wraps ErrLocked.
func (p *Profile) OpenStore(opts ...store.Option) (*store.Store, error) {
	st, err := store.Open(p.StoreDir(), opts...)
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%w (%s)", ErrLocked, p.StoreDir())
		}
		return nil, err
	}
	return st, nil
}

// Runtime is what a running node publishes in api.json.
type Runtime struct {
	Addr string `json:"addr"` // control API address, host:port on loopback
	PID  int    `json:"pid"`
}

// NewToken returns 32 random bytes, hex encoded.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// WriteRuntime writes the token (mode 0600) and then api.json, each
// atomically, so a reader that sees api.json finds the matching token.
func (p *Profile) WriteRuntime(rt Runtime, token string) error {
	if err := writeAtomic(p.TokenFile(), []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	b, err := json.Marshal(rt)
	if err != nil {
		return err
	}
	return writeAtomic(p.APIFile(), append(b, '\n'), 0o600)
}

// ReadRuntime reads api.json and the token. It returns an error wrapping
// ErrNoRuntime when either is missing.
func (p *Profile) ReadRuntime() (Runtime, string, error) {
	var rt Runtime
	b, err := os.ReadFile(p.APIFile())
	if errors.Is(err, fs.ErrNotExist) {
		return rt, "", ErrNoRuntime
	}
	if err != nil {
		return rt, "", err
	}
	if err := json.Unmarshal(b, &rt); err != nil || rt.Addr == "" {
		return rt, "", fmt.Errorf("%s is corrupt", p.APIFile())
	}
	tok, err := os.ReadFile(p.TokenFile())
	if errors.Is(err, fs.ErrNotExist) {
		return rt, "", ErrNoRuntime
	}
	if err != nil {
		return rt, "", err
	}
	return rt, strings.TrimSpace(string(tok)), nil
}

// RemoveRuntime deletes api.json and the token.
func (p *Profile) RemoveRuntime() error {
	err1 := os.Remove(p.APIFile())
	err2 := os.Remove(p.TokenFile())
	if errors.Is(err1, fs.ErrNotExist) {
		err1 = nil
	}
	if errors.Is(err2, fs.ErrNotExist) {
		err2 = nil
	}
	return errors.Join(err1, err2)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
