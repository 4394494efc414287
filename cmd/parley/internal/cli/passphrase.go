package cli

// Encryption at rest: every command that opens the profile's store passes
// the passphrase when the store is encrypted. The passphrase comes from
// $PARLEY_PASSPHRASE (scripts, tests), else from a prompt on the terminal
// (no echo), else the command fails with advice.

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/charmbracelet/x/term"

	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/store"
)

// PassphraseEnv names the variable that supplies the store's passphrase.
const PassphraseEnv = "PARLEY_PASSPHRASE"

// errNoTerminal means a passphrase is needed and nothing can supply it.
var errNoTerminal = errors.New("no terminal to ask for the passphrase")

// storeOptions returns the options that open p's store: with the passphrase
// when the store is encrypted, none otherwise.
func (a *app) storeOptions(p *profile.Profile) ([]store.Option, error) {
	enc, err := store.IsEncrypted(p.StoreDir())
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	if !enc {
		return nil, nil
	}
	pass, err := a.passphrase(fmt.Sprintf("Passphrase for profile %q: ", p.Name), false)
	if err != nil {
		return nil, fmt.Errorf("the store of profile %q is encrypted: %w", p.Name, err)
	}
	return []store.Option{store.WithPassphrase(pass)}, nil
}

// passphrase reads the passphrase from the environment or the terminal;
// confirm asks twice (a new passphrase).
func (a *app) passphrase(prompt string, confirm bool) (string, error) {
	if v := os.Getenv(PassphraseEnv); v != "" {
		return v, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return "", fmt.Errorf("%w: set %s or run the command on a terminal", errNoTerminal, PassphraseEnv)
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(f.Fd())
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	p, err := read(prompt)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", errors.New("empty passphrase")
	}
	if confirm {
		again, err := read("Repeat the passphrase: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the passphrases differ")
		}
	}
	return p, nil
}

// storeError makes the store's encryption errors say what to do.
func storeError(err error, p *profile.Profile) error {
	switch {
	case errors.Is(err, store.ErrWrongPassphrase):
		return fmt.Errorf("%w for profile %q (nothing was changed; check %s or retype it)", err, p.Name, PassphraseEnv)
	case errors.Is(err, store.ErrPassphraseRequired):
		return fmt.Errorf("%w: the store of profile %q is encrypted; set %s or run on a terminal", err, p.Name, PassphraseEnv)
	case errors.Is(err, store.ErrNotEncrypted):
		return fmt.Errorf("%w: profile %q was created without a passphrase, and converting a store is not supported", err, p.Name)
	case errors.Is(err, store.ErrNewerSchema):
		return fmt.Errorf("%w: profile %q was written by a newer parley; upgrade this one", err, p.Name)
	}
	return err
}

// initStoreOptions are storeOptions for init: with encrypt, a profile
// without a store gets an encrypted one (the passphrase asked twice).
func (a *app) initStoreOptions(p *profile.Profile, encrypt bool) ([]store.Option, error) {
	enc, err := store.IsEncrypted(p.StoreDir())
	if err != nil || enc || !encrypt {
		return a.storeOptions(p)
	}
	pass, err := a.passphrase(fmt.Sprintf("New passphrase for profile %q: ", p.Name), true)
	if err != nil {
		return nil, fmt.Errorf("init --passphrase: %w", err)
	}
	return []store.Option{store.WithPassphrase(pass)}, nil
}

// storeState is how status and init describe the store.
func storeState(encrypted bool) string {
	if encrypted {
		return "store: encrypted"
	}
	return "store: unencrypted (create with `parley init --passphrase`)"
}
