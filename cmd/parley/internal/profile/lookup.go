package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNoProfile means the named profile has never been created (no store).
var ErrNoProfile = errors.New("no such profile")

// Lookup returns the named profile if it exists (its store directory is
// there), without creating anything; otherwise an error wrapping
// ErrNoProfile. Client commands use it so that a mistyped --profile is
// reported instead of silently becoming a new identity.
func Lookup(name string) (*Profile, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("invalid profile name %q: use letters, digits, '.', '_' or '-'", name)
	}
	home, err := Home()
	if err != nil {
		return nil, err
	}
	p := &Profile{Name: name, Dir: filepath.Join(home, name)}
	if _, err := os.Stat(p.StoreDir()); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q (nothing at %s)", ErrNoProfile, name, p.Dir)
	} else if err != nil {
		return nil, err
	}
	return p, nil
}
