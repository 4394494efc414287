package metrics

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type fakeNode struct {
	status node.Status
	peers  []node.PeerInfo
	counts node.Counters
}

func (f *fakeNode) Status() node.Status     { return f.status }
func (f *fakeNode) Peers() []node.PeerInfo  { return f.peers }
func (f *fakeNode) Counters() node.Counters { return f.counts }

// scrape fetches url and returns each sample line's value by its name and labels.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return parse(t, resp.Body)
}

func parse(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCollectorReadsSnapshots(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "000001.sst"), make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{
		status: node.Status{Groups: 2, DHTPeers: 3, Reachability: "private",
			Drops: map[string]uint64{node.ErrBadSignature.Error(): 4, "other": 1},
			Sync: []node.SyncProgress{
				{Peer: "a", Group: "g", Received: 10, Total: 25},           // running: 15 to come
				{Peer: "b", Group: "g", Received: 5, Total: 5, Done: true}, // finished: no backlog
			}},
		peers:  []node.PeerInfo{{ID: "a", Path: "direct"}, {ID: "b", Path: "relayed"}, {ID: "c", Path: "direct"}},
		counts: node.Counters{MessagesSent: 7, MessagesReceivedGossip: 11, MessagesReceivedSync: 5, MessagesStored: 20, SyncPulls: 2, SyncBytes: 900},
	}
	reg := NewRegistry()
	reg.MustRegister(NewCollector(f, dir))
	srv, err := Start("127.0.0.1:0", reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	got := scrape(t, "http://"+srv.Addr().String()+Path)
	want := map[string]float64{
		"parley_messages_sent_total":                          7,
		`parley_messages_received_total{via="gossip"}`:        11,
		`parley_messages_received_total{via="sync"}`:          5,
		"parley_messages_stored_total":                        20,
		`parley_refusals_total{reason="bad signature"}`:       4,
		`parley_refusals_total{reason="other"}`:               1,
		`parley_refusals_total{reason="malformed"}`:           0,
		"parley_sync_pulls_total":                             2,
		"parley_sync_bytes_total":                             900,
		"parley_sync_running":                                 1,
		"parley_sync_backlog_messages":                        15,
		`parley_peers{path="direct"}`:                         2,
		`parley_peers{path="relayed"}`:                        1,
		`parley_peers{path="lan"}`:                            0,
		`parley_peers{path="hole-punched"}`:                   0,
		"parley_groups":                                       2,
		"parley_dht_peers":                                    3,
		`parley_reachability{reachability="private"}`:         1,
		`parley_reachability{reachability="public"}`:          0,
		`parley_gossip_queue_drops_total{queue="validation"}`: 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if got["parley_store_bytes"] < 64<<10 {
		t.Errorf("parley_store_bytes = %v, want at least the 64 KiB file", got["parley_store_bytes"])
	}
	if got["go_goroutines"] <= 0 {
		t.Errorf("no Go runtime metrics: go_goroutines = %v", got["go_goroutines"])
	}
}

// An unknown refusal reason (a newer node) is still reported.
func TestCollectorUnknownReason(t *testing.T) {
	f := &fakeNode{status: node.Status{Drops: map[string]uint64{"brand new": 3}}}
	reg := NewRegistry()
	reg.MustRegister(NewCollector(f, ""))
	srv, err := Start("127.0.0.1:0", reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got := scrape(t, "http://"+srv.Addr().String()+Path)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got[`parley_refusals_total{reason="brand new"}`] != 3 {
		t.Errorf("unknown reason not reported: %v", got)
	}
	if _, ok := got["parley_store_bytes"]; ok {
		t.Error("parley_store_bytes reported without a store directory")
	}
	// Closed: the port no longer answers.
	if _, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + srv.Addr().String() + Path); err == nil {
		t.Error("server still answers after Close")
	}
}

func TestStartBadAddress(t *testing.T) {
	_, err := Start("127.0.0.1:notaport", NewRegistry(), slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrListen) {
		t.Fatalf("bad address: %v, want ErrListen", err)
	}
}
