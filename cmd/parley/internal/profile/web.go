package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WebState is what keeps a bookmarked web chat working across restarts of
// the node: the loopback port of the control API (chosen once, then kept)
// and the login token. It lives in web.json (mode 0600) in the profile.
type WebState struct {
	Port  int    `json:"port"`
	Token string `json:"token"`
}

// WebFile is the path of web.json.
func (p *Profile) WebFile() string { return filepath.Join(p.Dir, "web.json") }

// ReadWeb returns the kept web state, or the zero value if none is kept.
func (p *Profile) ReadWeb() (WebState, error) {
	var w WebState
	b, err := os.ReadFile(p.WebFile())
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return w, err
	}
	if err := json.Unmarshal(b, &w); err != nil || w.Port < 0 || w.Port > 65535 {
		return WebState{}, fmt.Errorf("%s is corrupt (delete it to choose a new address and login)", p.WebFile())
	}
	return w, nil
}

// WriteWeb keeps the web state, atomically, readable by the owner only.
func (p *Profile) WriteWeb(w WebState) error {
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return writeAtomic(p.WebFile(), append(b, '\n'), 0o600)
}
