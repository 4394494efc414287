package node

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/store"
)

// Setting names of a profile's identity, kept in its store.
const (
	SettingIdentity = "identity"
	SettingName     = "name"
	SettingPort     = "port"
	// SettingHPKE is the X25519 HPKE private key membership epoch secrets
	// are sealed to (inside the store, so encrypted at rest with it).
	SettingHPKE = "hpke"
)

// Port range a new profile picks its listen port from.
const (
	MinPort = 20000
	MaxPort = 45000
)

// Identity is a profile's key and settings.
type Identity struct {
	Key  crypto.PrivKey
	ID   peer.ID
	Name string    // display name
	Port int       // preferred listen port
	ring *hpkeRing // HPKE keys: current and retired (hpkering.go)
}

// EnsureIdentity loads the identity and settings from st, creating any that
// are missing: a fresh Ed25519 key, a display name ($USER or the host name)
// and a random listen port in [MinPort, MaxPort]. A non-empty name overrides
// and is saved.
func EnsureIdentity(st *store.Store, name string) (Identity, error) {
	return ensureIdentity(st, name, nil)
}

// ensureIdentity is EnsureIdentity; a non-nil key is saved as the identity
// when the store has none and must match the one it has.
func ensureIdentity(st *store.Store, name string, key crypto.PrivKey) (Identity, error) {
	var id Identity
	raw, err := st.Setting(SettingIdentity)
	switch {
	case errors.Is(err, store.ErrNotFound):
		k := key
		if k == nil {
			var gerr error
			if k, _, gerr = crypto.GenerateEd25519Key(rand.Reader); gerr != nil {
				return id, gerr
			}
		}
		b, merr := crypto.MarshalPrivateKey(k)
		if merr != nil {
			return id, merr
		}
		if err := st.PutSetting(SettingIdentity, b); err != nil {
			return id, fmt.Errorf("save identity: %w", err)
		}
		id.Key = k
	case err != nil:
		return id, fmt.Errorf("read identity: %w", err)
	default:
		k, uerr := crypto.UnmarshalPrivateKey(raw)
		if uerr != nil {
			return id, fmt.Errorf("identity setting is corrupt: %w", uerr)
		}
		if key != nil && !k.Equals(key) {
			return id, ErrIdentityMismatch
		}
		id.Key = k
	}
	if id.ID, err = peer.IDFromPrivateKey(id.Key); err != nil {
		return id, err
	}

	name = strings.TrimSpace(name)
	if name == "" {
		b, err := st.Setting(SettingName)
		switch {
		case err == nil:
			name = string(b)
		case !errors.Is(err, store.ErrNotFound):
			return id, err
		}
	} else if err := st.PutSetting(SettingName, []byte(name)); err != nil {
		return id, err
	}
	if name == "" {
		name = DefaultDisplayName()
		if err := st.PutSetting(SettingName, []byte(name)); err != nil {
			return id, err
		}
	}
	id.Name = name

	cur, err := ensureHPKE(st)
	if err != nil {
		return id, err
	}
	if id.ring, err = loadRing(st, cur, time.Now()); err != nil {
		return id, err
	}

	b, err := st.Setting(SettingPort)
	switch {
	case err == nil:
		if id.Port, err = strconv.Atoi(string(b)); err != nil || id.Port < 0 || id.Port > 65535 {
			return id, fmt.Errorf("port setting %q is invalid", b)
		}
	case errors.Is(err, store.ErrNotFound):
		id.Port = MinPort + mrand.IntN(MaxPort-MinPort+1)
		if err := st.PutSetting(SettingPort, []byte(strconv.Itoa(id.Port))); err != nil {
			return id, err
		}
	default:
		return id, err
	}
	return id, nil
}

// DefaultDisplayName is $USER, else the host name, else "anonymous".
func DefaultDisplayName() string {
	if u := strings.TrimSpace(os.Getenv("USER")); u != "" {
		return u
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "anonymous"
}

// ensureHPKE loads the profile's HPKE key, creating it once.
func ensureHPKE(st *store.Store) (hpke.PrivateKey, error) {
	raw, err := st.Setting(SettingHPKE)
	switch {
	case err == nil:
		k, err := membership.ParseHPKEKey(raw)
		if err != nil {
			return nil, fmt.Errorf("hpke setting is corrupt: %w", err)
		}
		return k, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	k, err := membership.NewHPKEKey()
	if err != nil {
		return nil, err
	}
	b, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	if err := st.PutSetting(SettingHPKE, b); err != nil {
		return nil, fmt.Errorf("save hpke key: %w", err)
	}
	return k, nil
}

// memberIdentity is the identity as the membership log knows it.
func (id Identity) memberIdentity() (membership.Identity, error) {
	raw, err := id.Key.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return membership.Identity{}, fmt.Errorf("identity key is not Ed25519")
	}
	if id.ring == nil {
		return membership.Identity{}, fmt.Errorf("identity has no HPKE key")
	}
	cur, retired := id.ring.keys()
	return membership.Identity{Sign: ed25519.PrivateKey(raw), HPKE: cur, Retired: retired}, nil
}
