package node

import (
	"crypto/hpke"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/store"
)

// Forward secrecy of the epoch secrets (docs/crypto.md). Every epoch's
// secret is sealed, in the membership log, to each member's HPKE key, and
// the log is kept. If that key were long-term, whoever stole it later would
// open every epoch ever sealed to it and read all traffic they had captured.
// So each profile replaces its HPKE key on a timer: the new public key goes
// to every group in a signed key-update op, later epochs are sealed to it,
// and the old private key is deleted once the epochs sealed to it are past.

// Defaults of the HPKE key timers.
const (
	DefaultKeyRotation = 7 * 24 * time.Hour
	// DefaultKeyRetention covers members offline for up to two weeks, who
	// may still seal a new epoch to the old key before they learn the new.
	DefaultKeyRetention = 14 * 24 * time.Hour
)

// Settings of the HPKE key ring (SettingHPKE holds the current key).
const (
	settingHPKECreated = "hpke-created" // unix ms, decimal
	settingHPKERetired = "hpke-retired" // entries of 8-byte retired-at ms || 32-byte key
)

type retiredKey struct {
	key hpke.PrivateKey
	at  time.Time
}

// hpkeRing is the profile's current HPKE key and the retired ones kept.
type hpkeRing struct {
	mu      sync.Mutex
	current hpke.PrivateKey
	created time.Time
	retired []retiredKey
}

func loadRing(st *store.Store, current hpke.PrivateKey, now time.Time) (*hpkeRing, error) {
	r := &hpkeRing{current: current, created: now}
	b, err := st.Setting(settingHPKECreated)
	switch {
	case err == nil:
		ms, perr := strconv.ParseInt(string(b), 10, 64)
		if perr != nil {
			return nil, fmt.Errorf("%s setting is corrupt", settingHPKECreated)
		}
		r.created = time.UnixMilli(ms)
	case errors.Is(err, store.ErrNotFound):
		// A profile from before rotation: its key's age starts now.
		if err := st.PutSetting(settingHPKECreated, []byte(strconv.FormatInt(now.UnixMilli(), 10))); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	b, err = st.Setting(settingHPKERetired)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if len(b)%40 != 0 {
		return nil, fmt.Errorf("%s setting is corrupt", settingHPKERetired)
	}
	for ; len(b) > 0; b = b[40:] {
		k, err := membership.ParseHPKEKey(b[8:40])
		if err != nil {
			return nil, fmt.Errorf("%s setting is corrupt: %w", settingHPKERetired, err)
		}
		r.retired = append(r.retired, retiredKey{key: k, at: time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8])))})
	}
	return r, nil
}

func (r *hpkeRing) keys() (hpke.PrivateKey, []hpke.PrivateKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := make([]hpke.PrivateKey, len(r.retired))
	for i, k := range r.retired {
		old[i] = k.key
	}
	return r.current, old
}

// saveRetired writes the retired list (under mu).
func (r *hpkeRing) saveRetired(st *store.Store) error {
	var b []byte
	for _, k := range r.retired {
		kb, err := k.key.Bytes()
		if err != nil || len(kb) != 32 {
			return fmt.Errorf("hpke key bytes: %v", err)
		}
		b = binary.BigEndian.AppendUint64(b, uint64(k.at.UnixMilli()))
		b = append(b, kb...)
	}
	return st.PutSetting(settingHPKERetired, b)
}

// maintainKeys replaces the HPKE key once it is older than the rotation
// period (announcing the new one to every group) and deletes retired keys
// older than the retention period.
func (n *Node) maintainKeys(now time.Time) {
	r := n.id.ring
	if r == nil {
		return
	}
	r.mu.Lock()
	due := n.cfg.keyRotation > 0 && now.Sub(r.created) >= n.cfg.keyRotation
	kept := r.retired[:0:0]
	for _, k := range r.retired {
		if now.Sub(k.at) < n.cfg.keyRetention {
			kept = append(kept, k)
		}
	}
	if len(kept) != len(r.retired) {
		old := r.retired
		r.retired = kept
		if err := r.saveRetired(n.st); err != nil {
			r.retired = old
			n.log.Warn("delete retired hpke keys", "err", err)
		}
	}
	r.mu.Unlock()
	if due {
		if err := n.rotateHPKE(now); err != nil {
			n.log.Warn("hpke key rotation", "err", err)
		}
	}
}

// rotateHPKE makes a new HPKE key current, keeps the old one as retired,
// and announces the new public key in every group we belong to.
func (n *Node) rotateHPKE(now time.Time) error {
	r := n.id.ring
	k, err := membership.NewHPKEKey()
	if err != nil {
		return err
	}
	kb, err := k.Bytes()
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.current
	r.retired = append(r.retired, retiredKey{key: old, at: now})
	// The old key is saved as retired before the new one replaces it: a
	// crash in between leaves it twice, never lost.
	err = r.saveRetired(n.st)
	if err == nil {
		err = n.st.PutSetting(SettingHPKE, kb)
	}
	if err == nil {
		err = n.st.PutSetting(settingHPKECreated, []byte(strconv.FormatInt(now.UnixMilli(), 10)))
	}
	if err != nil {
		r.retired = r.retired[:len(r.retired)-1]
		r.mu.Unlock()
		return err
	}
	r.current, r.created = k, now
	r.mu.Unlock()
	pub := membership.HPKEPublic(k)
	var errs []error
	for _, g := range n.allGroups() {
		if g.mem.legacy() {
			continue
		}
		err := n.change(hex.EncodeToString(g.rec.ID[:]), func(l *membership.Log, self membership.Identity, _ *membership.State) (*membership.Op, []byte, error) {
			o, err := l.UpdateKey(self, pub, now)
			return o, nil, err
		})
		if err != nil && !errors.Is(err, ErrNotGroupMember) {
			errs = append(errs, fmt.Errorf("group %s: %w", g.rec.Name, err))
		}
	}
	return errors.Join(errs...)
}

// currentHPKE is the profile's current HPKE private key.
func (id Identity) currentHPKE() hpke.PrivateKey {
	cur, _ := id.ring.keys()
	return cur
}
