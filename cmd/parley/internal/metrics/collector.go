package metrics

import (
	"io/fs"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
)

// Source is what the collector reads of a node (a *node.Node).
type Source interface {
	Status() node.Status
	Peers() []node.PeerInfo
	Counters() node.Counters
}

// paths are the values of parley_peers' path label, all reported (zero
// included) so a dashboard sees every series from the first scrape.
var paths = []p2p.Path{p2p.PathLAN, p2p.PathDirect, p2p.PathHolePunched, p2p.PathRelayed}

// Collector turns a node's snapshots into Parley's metrics at scrape time.
type Collector struct {
	src      Source
	storeDir string

	sent, received, stored, refusals, queueDrops, eventsDropped *prometheus.Desc
	syncPulls, syncBytes, syncRunning, syncBacklog              *prometheus.Desc
	storeBytes, peers, groups, dhtPeers, reachability           *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector reads src at each scrape; storeDir, when not empty, is the
// store directory whose size on disk parley_store_bytes reports.
func NewCollector(src Source, storeDir string) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("parley_"+name, help, labels, nil)
	}
	return &Collector{
		src: src, storeDir: storeDir,
		sent:          d("messages_sent_total", "Our own messages stored and published."),
		received:      d("messages_received_total", "Verified messages from other members reaching the store, duplicates included, by how they came.", "via"),
		stored:        d("messages_stored_total", "Messages new to the store (our own and received)."),
		refusals:      d("refusals_total", "Refused network input (gossip and sync), by reason.", "reason"),
		queueDrops:    d("gossip_queue_drops_total", "GossipSub queue-full drops (history sync recovers them), by queue.", "queue"),
		eventsDropped: d("events_dropped_total", "Events not delivered to a slow front-end subscriber."),
		syncPulls:     d("sync_pulls_total", "History sync pulls that opened a stream (finished or failed)."),
		syncBytes:     d("sync_bytes_total", "Sync stream bytes of those pulls, both ways."),
		syncRunning:   d("sync_running", "History pulls running now."),
		syncBacklog:   d("sync_backlog_messages", "Messages the running pulls still expect (catch-up backlog)."),
		storeBytes:    d("store_bytes", "Disk space the store directory uses (allocated blocks)."),
		peers:         d("peers", "Connected peers, by how they are reached.", "path"),
		groups:        d("groups", "Groups joined."),
		dhtPeers:      d("dht_peers", "Peers in the DHT routing table."),
		reachability:  d("reachability", "AutoNAT's verdict: 1 for the current one.", "reachability"),
	}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sent, c.received, c.stored, c.refusals, c.queueDrops, c.eventsDropped,
		c.syncPulls, c.syncBytes, c.syncRunning, c.syncBacklog, c.storeBytes, c.peers, c.groups, c.dhtPeers, c.reachability} {
		ch <- d
	}
}

// Collect reads the node's snapshots and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	n := c.src.Counters()
	counter(c.sent, n.MessagesSent)
	counter(c.received, n.MessagesReceivedGossip, "gossip")
	counter(c.received, n.MessagesReceivedSync, "sync")
	counter(c.stored, n.MessagesStored)
	counter(c.syncPulls, n.SyncPulls)
	counter(c.syncBytes, n.SyncBytes)

	st := c.src.Status()
	drops := st.Drops
	for _, r := range node.DropReasons() {
		counter(c.refusals, drops[r], r)
	}
	for r, v := range drops {
		if !known(r) {
			counter(c.refusals, v, r)
		}
	}
	counter(c.queueDrops, st.QueueDrops.OutboundRPCs, "outbound")
	counter(c.queueDrops, st.QueueDrops.Validation, "validation")
	counter(c.queueDrops, st.QueueDrops.Subscription, "subscription")
	counter(c.eventsDropped, st.EventsDropped)
	running, backlog := 0, uint64(0)
	for _, p := range st.Sync {
		if !p.Done {
			running++
			if p.Total > p.Received {
				backlog += p.Total - p.Received
			}
		}
	}
	gauge(c.syncRunning, float64(running))
	gauge(c.syncBacklog, float64(backlog))
	gauge(c.groups, float64(st.Groups))
	gauge(c.dhtPeers, float64(st.DHTPeers))
	for _, r := range []p2p.Reachability{p2p.ReachabilityPublic, p2p.ReachabilityPrivate, p2p.ReachabilityUnknown} {
		gauge(c.reachability, b2f(st.Reachability == string(r)), string(r))
	}

	byPath := map[string]int{}
	for _, p := range c.src.Peers() {
		byPath[p.Path]++
	}
	for _, p := range paths {
		gauge(c.peers, float64(byPath[string(p)]), string(p))
	}

	if c.storeDir != "" {
		if size, err := dirSize(c.storeDir); err == nil {
			gauge(c.storeBytes, float64(size))
		} else {
			ch <- prometheus.NewInvalidMetric(c.storeBytes, err)
		}
	}
}

func known(reason string) bool {
	for _, r := range node.DropReasons() {
		if r == reason {
			return true
		}
	}
	return false
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// dirSize sums the disk usage of the regular files under dir. Badger's own
// figure is refreshed only once a minute and counts the value log's
// preallocated size; a store holds few files, so walking it at each scrape
// is cheap and current.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			fi, err := e.Info()
			if err != nil {
				return nil // removed meanwhile (compaction)
			}
			total += diskBytes(fi)
		}
		return nil
	})
	return total, err
}
