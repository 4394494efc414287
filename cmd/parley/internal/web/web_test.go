package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/web"
	"github.com/parley-chat/parley/node"
)

const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// stub answers Status; the tests call nothing else.
type stub struct{ backend.Backend }

func (stub) Status() node.Status { return node.Status{ID: "12D3KooWtest"} }

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := api.NewServer(stub{}, token, api.WithWebUI(web.Handler()))
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return ts
}

func get(t *testing.T, ts *httptest.Server, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestAssetsServedWithoutTokenWithSecurityHeaders(t *testing.T) {
	ts := newServer(t)
	for path, ctype := range map[string]string{
		"/":         "text/html",
		"/app.js":   "text/javascript",
		"/app.css":  "text/css",
		"/icon.svg": "image/svg+xml",
	} {
		resp := get(t, ts, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", path, got, ctype)
		}
		if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") || !strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", path, got)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("GET %s: CORS header %s", path, k)
			}
		}
	}
	if resp := get(t, ts, http.MethodPost, "/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", resp.StatusCode)
	}
	if resp := get(t, ts, http.MethodGet, "/nope.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope.js: %d", resp.StatusCode)
	}
}

func TestAPIStillNeedsToken(t *testing.T) {
	ts := newServer(t)
	if resp := get(t, ts, http.MethodGet, "/v1/status", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp := get(t, ts, http.MethodGet, "/v1", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/v1 without token: %d", resp.StatusCode)
	}
	auth := map[string]string{"Authorization": "Bearer " + token}
	resp := get(t, ts, http.MethodGet, "/v1/status", auth)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "12D3KooWtest") {
		t.Fatalf("with token: %d %s", resp.StatusCode, b)
	}
}

func TestHostAndOriginChecks(t *testing.T) {
	ts := newServer(t)
	port := ts.URL[strings.LastIndex(ts.URL, ":")+1:]
	auth := "Bearer " + token
	cases := []struct {
		name, path string
		hdr        map[string]string
		want       int
	}{
		{"own origin", "/v1/status", map[string]string{"Authorization": auth, "Origin": "http://127.0.0.1:" + port}, 200},
		{"localhost", "/v1/status", map[string]string{"Authorization": auth, "Host": "localhost:" + port}, 200},
		{"rebinding name", "/v1/status", map[string]string{"Authorization": auth, "Host": "evil.example:" + port}, 421},
		{"rebinding name, page", "/", map[string]string{"Host": "evil.example:" + port}, 421},
		{"other port", "/v1/status", map[string]string{"Authorization": auth, "Host": "127.0.0.1:1"}, 421},
		{"no port", "/", map[string]string{"Host": "127.0.0.1"}, 421},
		{"foreign origin", "/v1/status", map[string]string{"Authorization": auth, "Origin": "http://evil.example"}, 403},
		{"null origin", "/v1/status", map[string]string{"Authorization": auth, "Origin": "null"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if resp := get(t, ts, http.MethodGet, c.path, c.hdr); resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}

// The app must work offline and under its own CSP: no remote resources, no
// inline scripts, styles or handlers, and user text never parsed as HTML.
var localScript = regexp.MustCompile(` src="([a-z0-9-]+\.js)"`)

func TestAssetsSelfContained(t *testing.T) {
	files := map[string]string{}
	err := fs.WalkDir(web.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.Assets(), p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"index.html", "app.js", "app.css", "icon.svg"} {
		if _, ok := files[want]; !ok {
			t.Fatalf("%s not embedded", want)
		}
	}
	remote := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(\s*['"]?https?:`)
	for name, text := range files {
		for _, m := range remote.FindAllString(text, -1) {
			if m != "http://www.w3.org" { // the SVG namespace, not a fetch
				t.Errorf("%s refers to a remote resource: %q", name, m)
			}
		}
	}
	html := files["index.html"]
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(\s[^>]*)?>[^<]+</script>`), // inline script
		regexp.MustCompile(`<script(?:\s[^>]*)?>`),             // checked below for src
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`<style`),
	} {
		for _, m := range bad.FindAllString(html, -1) {
			// An embedded script file of our own (app.js, a feature's .js).
			if src := localScript.FindStringSubmatch(m); src != nil && !strings.Contains(m, "</script>") {
				if _, ok := files[src[1]]; ok {
					continue
				}
			}
			t.Errorf("index.html: %q breaks the CSP", m)
		}
	}
	for name, js := range files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(js, bad) {
				t.Errorf("%s uses %s: user text must go through textContent", name, bad)
			}
		}
	}
}

func TestURL(t *testing.T) {
	got := web.URL("127.0.0.1:4242", "abc123")
	if got != "http://127.0.0.1:4242/#token=abc123" {
		t.Fatalf("URL = %q", got)
	}
}
