package cli

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/parley-chat/parley/cmd/parley/internal/profile"
)

// listenAPI opens the control API's loopback listener on the profile's kept
// port with its kept token (web.json), so that a bookmarked web chat keeps
// working across restarts. The first start chooses both and keeps them. A
// kept port that is taken falls back to a free one, with a warning: that
// run's web chat has another address.
func (a *app) listenAPI(p *profile.Profile, log *slog.Logger) (net.Listener, string, error) {
	ws, err := p.ReadWeb()
	if err != nil {
		log.Warn("web chat address and login not kept", "err", err)
		ws = profile.WebState{}
	}
	var ln net.Listener
	if ws.Port != 0 {
		ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ws.Port))
		if err != nil {
			fmt.Fprintf(a.stderr, "warning: the web chat's usual address 127.0.0.1:%d is taken (%v); using another one this time, so bookmarks to it will not work until that port is free\n", ws.Port, err)
			log.Warn("kept control API port taken; using a free one", "port", ws.Port, "err", err)
		}
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, "", fmt.Errorf("control API: %w", err)
		}
	}
	keep := false
	if ws.Token == "" {
		if ws.Token, err = profile.NewToken(); err != nil {
			ln.Close()
			return nil, "", err
		}
		keep = true
	}
	if ws.Port == 0 {
		ws.Port = ln.Addr().(*net.TCPAddr).Port
		keep = true
	}
	if keep {
		if err := p.WriteWeb(ws); err != nil {
			log.Warn("keep the web chat address and login", "err", err)
		}
	}
	return ln, ws.Token, nil
}
