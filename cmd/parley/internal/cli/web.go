package cli

import (
	"errors"
	"fmt"
	"html"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/cmd/parley/internal/web"
)

// webLoginFile is the private (0600) page in the profile directory that a
// browser is started on: it forwards to the web chat's URL, so the login
// token never appears on a command line (which other local users can read).
const webLoginFile = "web-login.html"

func (a *app) webCmd() *cobra.Command {
	var open bool
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Print the address of the running node's web chat (it carries a login token: keep it private)",
		Long: `Print the address of the web chat that the running node serves on loopback.
The address carries the node's login token after the '#', which browsers never
send over the network; anyone holding it can use your node, so keep it private.
The address and token stay the same across restarts of the node (kept in the
profile's web.json; delete it to get a new address and login). With --open,
also open it in a browser.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.profile()
			if err != nil {
				return err
			}
			rt, tok, err := p.ReadRuntime()
			if errors.Is(err, profile.ErrNoRuntime) {
				return a.errNoNode("")
			}
			if err != nil {
				return err
			}
			// Make sure the node answers (and the token is current).
			if err := a.call(func(c *api.Client) error {
				_, err := c.Status(cmd.Context())
				return err
			}); err != nil {
				return err
			}
			u := web.URL(rt.Addr, tok)
			fmt.Fprintln(a.stdout, u)
			if open {
				if err := openBrowser(p, u); err != nil {
					return fmt.Errorf("open a browser: %w (open the address above yourself)", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "also open the web chat in a browser")
	return cmd
}

// registerWebFlag adds --web to a node command.
func registerWebFlag(cmd *cobra.Command, f *nodeFlags) {
	cmd.Flags().BoolVar(&f.web, "web", false, "print the web chat's address and open it in a browser")
}

// announceWeb tells the user where the web chat is and opens a browser.
func (a *app) announceWeb(log *slog.Logger, addr, token string) {
	u := web.URL(addr, token)
	fmt.Fprintf(a.stderr, "web chat: %s\n", u)
	p, err := a.profile()
	if err == nil {
		err = openBrowser(p, u)
	}
	if err != nil {
		log.Warn("could not open a browser; open the web chat address yourself", "err", err)
	}
}

// openBrowser opens u in the user's browser through a private forwarding
// page, removed again a minute later.
func openBrowser(p *profile.Profile, u string) error {
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)")
		}
		name = "xdg-open"
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return err
	}
	page := filepath.Join(p.Dir, webLoginFile)
	body := `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0;url=` + html.EscapeString(u) + `"><title>Parley</title>` +
		`<p>Opening <a href="` + html.EscapeString(u) + `">Parley</a>…</p>` + "\n"
	_ = os.Remove(page) // a new file gets mode 0600 even if an old one was wider
	if err := os.WriteFile(page, []byte(body), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, append(args, page)...)
	if err := cmd.Start(); err != nil {
		os.Remove(page)
		return err
	}
	go func() {
		_ = cmd.Wait()
		time.Sleep(time.Minute)
		os.Remove(page)
	}()
	return nil
}
