package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/parley-chat/parley/node"
)

// Network kinds.
const (
	NetTCP     = "tcp"     // real libp2p hosts on 127.0.0.1 (TCP, Noise, yamux)
	NetMocknet = "mocknet" // libp2p's in-process mock network
)

// Config is what a run measures. Zero values are replaced by the defaults in
// Defaults, which finish within about two minutes on a 2-core machine.
type Config struct {
	Nodes    int           // cluster size for latency and throughput
	Degree   int           // connections each node dials (full mesh when Nodes <= Degree+1)
	MsgSize  int           // message body size for the latency run, bytes
	Rate     float64       // latency run send rate, messages/s (all senders together)
	Duration time.Duration // latency run length
	Senders  int           // nodes that send (0: all nodes)

	ThroughputSizes []int         // message sizes for the throughput search (empty: skip)
	StepDuration    time.Duration // length of one throughput step
	MaxSteps        int           // throughput steps per search (one size, one system, one repeat)
	MaxRate         float64       // highest rate tried
	Repeats         int           // throughput searches per size and system; figures are their median
	P99Bound        time.Duration // second throughput figure: p99 to all members at most this
	Drain           time.Duration // how long to wait for stragglers after sending

	CatchUp []int // missed-message counts for the catch-up runs (empty: skip)
	// CatchUpProfile, when set, is where a CPU profile of each catch-up's
	// timed part is written (suffixed with the message count).
	CatchUpProfile string
	// CatchUpHeapProfile, when set, is where a heap profile (live objects)
	// of the receiver alone is written after each catch-up, as FILE.N.
	CatchUpHeapProfile string
	IdleNodes          int           // extra idle run with this many nodes (0: skip)
	IdleWindow         time.Duration // how long idle memory and CPU are observed

	// Growth replaces the standard runs by the cost-as-work-grows runs:
	// latency, CPU and memory for each GrowthNodes cluster size at Rate,
	// and catch-up time, memory and disk for each GrowthHistory size.
	Growth        bool
	GrowthNodes   []int
	GrowthHistory []int

	// Soak replaces the standard runs by one long paced run at Rate on
	// Nodes, cut into SoakWindow windows (0: no soak).
	Soak       time.Duration
	SoakWindow time.Duration
	// SoakTraceWindow, with LoadTrace set, traces the soak's window of this
	// number (from 1) instead of the first load run: a compaction minute.
	SoakTraceWindow int

	// Actions: after each text message, the sender also sends this many
	// actions, alternately a reaction to that message and a vote in a poll
	// made at setup: the cost of reactions and polls on the figures, next
	// to a run with 0 (issue 13). Deliveries still count texts only.
	Actions int

	// NodeMemoryLimit is the Go soft memory limit each Parley daemon runs
	// with by default (parley --memory-limit); the process holding n nodes
	// runs with n times it on top of what it held before (0: none).
	NodeMemoryLimit int64
	// SendLinger is each Parley node's send linger (node.WithSendLinger):
	// 0 leaves the node's default, negative sets none.
	SendLinger time.Duration

	// Text is what Parley's messages say: TextRepeat (one phrase repeated,
	// the same for every message: compresses almost to nothing, and across
	// messages) or TextWords (each message its own run of words drawn from a
	// vocabulary: compresses about as chat text does). Default TextRepeat.
	Text string

	// Procs runs every node of the latency, throughput, growth and soak
	// runs (Parley's and the baseline's) in a process of its own, as on users' machines,
	// instead of all in this one, where they share one collector, heap and
	// scheduler. Memory and CPU are then the node processes'.
	Procs bool

	InMemory     bool   // in-memory stores instead of Badger on disk
	Net          string // NetTCP or NetMocknet
	SkipBaseline bool   // do not run the raw GossipSub baseline
	// SignedBaseline runs the latency run and the throughput searches a
	// third time, after the raw baseline, on GossipSub hosts that sign every
	// message with the publisher's Ed25519 key and check the signature at
	// every hop (pubsub.StrictSign): the least work any design that
	// authenticates each message's author adds to raw GossipSub, so
	// Parley's ratio to it is what the rest (store, encryption, indexes,
	// sync) costs. Standard runs only.
	SignedBaseline bool
	// BaselineSign makes a baseline host sign (set on the copy of the
	// configuration the signed baseline runs with, and in its processes).
	BaselineSign bool
	SkipLatency  bool   // do not run the latency measurement
	Dir          string // where on-disk stores live (default: a temp dir, removed after)

	Logger   *slog.Logger // node logs (default: errors only, to Progress)
	LogLevel string       // node processes' log level (Procs; default error)
	Progress io.Writer    // progress lines (nil: none)
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Nodes:           5,
		Degree:          6,
		MsgSize:         256,
		Rate:            100,
		Duration:        5 * time.Second,
		ThroughputSizes: []int{256, 4096},
		StepDuration:    2 * time.Second,
		MaxSteps:        12,
		MaxRate:         20000,
		Repeats:         3,
		P99Bound:        100 * time.Millisecond,
		Drain:           3 * time.Second,
		CatchUp:         []int{10_000},
		IdleWindow:      2 * time.Second,
		Net:             NetTCP,
		GrowthNodes:     []int{5, 20, 50, 100},
		GrowthHistory:   []int{10_000, 100_000, 1_000_000},
	}
}

// Message texts (Config.Text).
const (
	TextRepeat = "repeat"
	TextWords  = "words"
)

// ErrConfig reports an unusable configuration.
var ErrConfig = errors.New("bench: bad configuration")

func (c *Config) fill() error {
	d := Defaults()
	if c.Nodes == 0 {
		c.Nodes = d.Nodes
	}
	if c.Degree == 0 {
		c.Degree = d.Degree
	}
	switch c.Text {
	case "":
		c.Text = TextRepeat
	case TextRepeat, TextWords:
	default:
		return fmt.Errorf("%w: text %q (want %s or %s)", ErrConfig, c.Text, TextRepeat, TextWords)
	}
	if c.MsgSize == 0 {
		c.MsgSize = d.MsgSize
	}
	if c.Rate == 0 {
		c.Rate = d.Rate
	}
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if c.StepDuration == 0 {
		c.StepDuration = d.StepDuration
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = d.MaxSteps
	}
	if c.MaxRate == 0 {
		c.MaxRate = d.MaxRate
	}
	if c.Repeats == 0 {
		c.Repeats = d.Repeats
	}
	if c.P99Bound == 0 {
		c.P99Bound = d.P99Bound
	}
	if c.Drain == 0 {
		c.Drain = d.Drain
	}
	if c.IdleWindow == 0 {
		c.IdleWindow = d.IdleWindow
	}
	if c.Net == "" {
		c.Net = NetTCP
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(c.Progress, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	switch {
	case c.Nodes < 2:
		return fmt.Errorf("%w: need at least 2 nodes, got %d", ErrConfig, c.Nodes)
	case c.Senders < 0 || c.Senders > c.Nodes:
		return fmt.Errorf("%w: senders must be 0..nodes", ErrConfig)
	case c.MsgSize < 16 || c.MsgSize > 16<<10:
		return fmt.Errorf("%w: message size must be 16..16384 bytes", ErrConfig)
	case c.Net != NetTCP && c.Net != NetMocknet:
		return fmt.Errorf("%w: net must be %q or %q", ErrConfig, NetTCP, NetMocknet)
	case c.Rate <= 0 || c.MaxRate <= 0:
		return fmt.Errorf("%w: rates must be positive", ErrConfig)
	case c.Repeats < 1 || c.MaxSteps < 1:
		return fmt.Errorf("%w: repeats and steps must be at least 1", ErrConfig)
	case c.P99Bound < 0:
		return fmt.Errorf("%w: the p99 bound must be positive", ErrConfig)
	case c.Procs && (c.Net == NetMocknet || c.Actions > 0):
		return fmt.Errorf("%w: --procs runs nodes on loopback TCP, without --actions", ErrConfig)
	case c.SignedBaseline && (c.SkipBaseline || c.Growth || c.Soak > 0):
		return fmt.Errorf("%w: --signed-baseline is for the standard runs, beside the raw baseline", ErrConfig)
	}
	if c.Soak > 0 && c.SoakWindow <= 0 {
		c.SoakWindow = time.Minute
	}
	for _, n := range c.GrowthNodes {
		if n < 2 {
			return fmt.Errorf("%w: growth cluster size %d below 2", ErrConfig, n)
		}
	}
	for _, m := range c.GrowthHistory {
		if m < 1 {
			return fmt.Errorf("%w: growth history size %d below 1", ErrConfig, m)
		}
	}
	for _, s := range c.ThroughputSizes {
		if s < 16 || s > 16<<10 {
			return fmt.Errorf("%w: throughput size %d not in 16..16384", ErrConfig, s)
		}
	}
	if c.Senders == 0 {
		c.Senders = c.Nodes
	}
	return nil
}

// effectiveLinger is the send linger the nodes run with.
func (c Config) effectiveLinger() time.Duration {
	switch {
	case c.SendLinger == 0:
		return node.DefaultSendLinger
	case c.SendLinger < 0:
		return 0
	}
	return c.SendLinger
}
