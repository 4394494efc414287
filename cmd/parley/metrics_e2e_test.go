package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var metricsURL = regexp.MustCompile(`url=(http://\S+/metrics)`)

// waitMetricsURL waits for the process to log where it serves metrics.
func waitMetricsURL(t *testing.T, p *background) string {
	t.Helper()
	var url string
	poll(t, 60*time.Second, "metrics URL in the log", func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("process exited early: %v\n%s", p.err, p.stderr.String())
		default:
		}
		m := metricsURL.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return false, p.stderr.String()
		}
		url = m[1]
		return true, ""
	})
	return url
}

// scrapeMetrics fetches a Prometheus text page: samples by name{labels},
// and the page itself.
func scrapeMetrics(url string) (map[string]float64, string, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, string(body), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, string(body), fmt.Errorf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, string(body), sc.Err()
}

func hasPrefixKey(m map[string]float64, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// parleyLines is the page's parley_* samples (for failure messages).
func parleyLines(page string) string { return samples(page, "parley_") }

// samples is the page's samples whose names start with one of prefixes.
func samples(page string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(page, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestMetrics runs a relay and a daemon with --metrics, a second daemon
// without, exchanges messages and checks both endpoints' figures: Parley's
// own and libp2p's. After SIGTERM the endpoints are gone.
func TestMetrics(t *testing.T) {
	bin := parleyBinary(t)
	homeR, homeA, homeB := t.TempDir(), t.TempDir(), t.TempDir()

	relay := startBackground(t, bin, homeR, nil, "--profile", "relay", "--log-level", "info",
		"relay", "--listen", "/ip4/127.0.0.1/tcp/0", "--metrics", "127.0.0.1:0")
	relayURL := waitMetricsURL(t, relay)
	var relayAddr string
	poll(t, 30*time.Second, "relay address", func() (bool, string) {
		relayAddr = strings.TrimSpace(relay.stdout.String())
		return strings.Contains(relayAddr, "/p2p/"), relayAddr
	})
	relayAddr = strings.Fields(relayAddr)[0]

	a := startBackground(t, bin, homeA, nil, "--log-level", "info", "daemon", "--mdns=false",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--name", "alice", "--bootstrap", relayAddr, "--metrics", "127.0.0.1:0")
	aURL := waitMetricsURL(t, a)
	poll(t, 60*time.Second, "alice's api.json", func() (bool, string) {
		_, err := os.Stat(filepath.Join(homeA, "default", "api.json"))
		return err == nil, fmt.Sprint(err)
	})
	startDaemon(t, bin, "bob", homeB)

	mustRun(t, bin, homeA, "group", "create", "Family")
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Family"))
	mustRun(t, bin, homeB, "group", "join", code)
	mustRun(t, bin, homeA, "send", "Family", "hello from A")
	mustRun(t, bin, homeB, "send", "Family", "hello from B")

	var m map[string]float64
	var page string
	poll(t, 60*time.Second, "alice's metrics to show the exchange", func() (bool, string) {
		var err error
		m, page, err = scrapeMetrics(aURL)
		if err != nil {
			return false, err.Error()
		}
		received := m[`parley_messages_received_total{via="gossip"}`] + m[`parley_messages_received_total{via="sync"}`]
		return m["parley_messages_sent_total"] >= 2 && received >= 2 && m["parley_messages_stored_total"] >= 4 &&
			peersOnAnyPath(m) >= 2 && m[`parley_peers{path="direct"}`] >= 1, parleyLines(page)
	})
	t.Logf("alice's metrics (parley_* and some of libp2p's):\n%s\n%s", parleyLines(page),
		samples(page, "libp2p_rcmgr_connections", "libp2p_swarm_connections_opened_total", "libp2p_identify_protocols_count"))
	for _, k := range []string{`parley_refusals_total{reason="bad signature"}`, `parley_refusals_total{reason="other"}`,
		"parley_sync_pulls_total", "parley_sync_bytes_total", "parley_sync_backlog_messages", `parley_peers{path="relayed"}`} {
		if _, ok := m[k]; !ok {
			t.Errorf("alice: %s missing", k)
		}
	}
	if strings.Contains(page, "12D3KooW") {
		t.Errorf("alice's metrics show a peer id:\n%s", samples(page, ""))
	}
	if m["parley_groups"] != 1 {
		t.Errorf("alice: parley_groups = %v, want 1", m["parley_groups"])
	}
	if m["parley_store_bytes"] <= 0 {
		t.Errorf("alice: parley_store_bytes = %v, want > 0", m["parley_store_bytes"])
	}
	for _, p := range []string{"libp2p_rcmgr_", "libp2p_swarm_", "libp2p_identify_", "go_goroutines", "process_resident_memory_bytes"} {
		if !hasPrefixKey(m, p) {
			t.Errorf("alice: no %s* metric", p)
		}
	}

	poll(t, 30*time.Second, "the relay's metrics to show alice connected", func() (bool, string) {
		var err error
		m, page, err = scrapeMetrics(relayURL)
		if err != nil {
			return false, err.Error()
		}
		return m[`parley_peers{path="direct"}`] >= 1, parleyLines(page)
	})
	if m["parley_groups"] != 0 || m["parley_messages_sent_total"] != 0 {
		t.Errorf("relay: groups %v, sent %v; a relay joins no group", m["parley_groups"], m["parley_messages_sent_total"])
	}
	if m[`parley_reachability{reachability="public"}`] != 1 {
		t.Errorf("relay: not public: %s", parleyLines(page))
	}
	for _, p := range []string{"libp2p_relaysvc_", "libp2p_rcmgr_", "libp2p_swarm_"} {
		if !hasPrefixKey(m, p) {
			t.Errorf("relay: no %s* metric", p)
		}
	}

	// Owned: SIGTERM ends the process cleanly and takes the endpoint with it.
	a.signal(t, syscall.SIGTERM)
	relay.signal(t, syscall.SIGTERM)
	for _, u := range []string{aURL, relayURL} {
		if _, _, err := scrapeMetrics(u); err == nil {
			t.Errorf("%s still answers after exit", u)
		}
	}
}

// peersOnAnyPath sums parley_peers over its paths: since members keep relay
// slots and advertise circuit addresses, bob may be reached relayed even on
// loopback, so the test counts the peers, and the relay's direct link.
func peersOnAnyPath(m map[string]float64) float64 {
	var n float64
	for _, path := range []string{"lan", "direct", "hole-punched", "relayed"} {
		n += m[`parley_peers{path="`+path+`"}`]
	}
	return n
}
