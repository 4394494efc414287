package web

import (
	"embed"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every asset: only this origin's own
// scripts, styles and connections; no framing, no plugins, no inline code.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Assets returns the embedded static files (index.html at the root).
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Handler serves the embedded app. Only GET and HEAD are allowed; every
// answer carries the security headers.
func Handler() http.Handler {
	files := http.FileServerFS(Assets())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/index.html" {
			// FileServer would redirect to "/"; do it ourselves, keeping
			// nothing of the query.
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		// Always revalidate: a new binary must not run a stale script
		// against a changed API.
		w.Header().Set("Cache-Control", "no-cache")
		if strings.HasSuffix(p, ".js") {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	})
}

// SetSecurityHeaders sets the headers every web answer carries.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// URL is the address to open in a browser for the node whose control API
// listens at addr (host:port) with token. The token travels in the
// fragment, which browsers never send to servers, nor in Referer headers.
func URL(addr, token string) string {
	u := url.URL{Scheme: "http", Host: addr, Path: "/", Fragment: "token=" + token}
	return u.String()
}
