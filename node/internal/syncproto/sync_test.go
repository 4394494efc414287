package syncproto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

// side is one end of a sync: a host, a store and a Syncer serving one group.
type side struct {
	h  *p2p.Host
	st *store.Store
	s  *Syncer
	g  *Group

	dropsMu sync.Mutex
	drops   []error // what the Syncer refused (Config.OnDrop)
}

func (sd *side) dropped() []error {
	sd.dropsMu.Lock()
	defer sd.dropsMu.Unlock()
	return slices.Clone(sd.drops)
}

func newSide(t *testing.T, secret []byte) *side {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2p.New(context.Background(), p2p.WithIdentity(key), p2p.WithLogger(quiet),
		p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open("", store.InMemory(), store.WithLogger(quiet))
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	keys, err := envelope.DeriveKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	sd := &side{h: h, st: st, g: &Group{ID: keys.ID, Keys: &keys, Peers: func() []peer.ID { return nil }}}
	sd.s = New(Config{
		Self: h.ID(), Store: st, Net: h, Log: quiet,
		Groups: func() []*Group { return []*Group{sd.g} },
		OnDrop: func(err error) {
			sd.dropsMu.Lock()
			sd.drops = append(sd.drops, err)
			sd.dropsMu.Unlock()
		},
		Ingest: func(g *Group, vs []*envelope.Verified) error {
			msgs := make([]store.Message, len(vs))
			for i, v := range vs {
				msgs[i] = v.StoreMessage(g.ID)
			}
			_, err := st.AppendReceived(context.Background(), msgs...)
			return err
		},
	})
	h.SetStreamHandler(Protocol, sd.s.Handle)
	sd.s.Start()
	t.Cleanup(func() {
		sd.s.Close()
		h.Close()
		st.Close()
	})
	return sd
}

// seed stores n chained messages of one author in the side's group.
func (sd *side) seed(t *testing.T, n int) {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	author, _ := crypto.MarshalPublicKey(key.GetPublic())
	ms := make([]*wirepb.Message, n)
	for i := range ms {
		ms[i] = &wirepb.Message{Version: envelope.WireVersion, GroupId: sd.g.ID[:], Author: author, Seq: uint64(i + 1),
			Lamport: uint64(i + 1), TimestampMs: 1000, Body: &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: fmt.Sprint(i)}}}}
	}
	vs, err := envelope.SignBatch(key, ms)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]store.Message, len(vs))
	for i, v := range vs {
		msgs[i] = v.StoreMessage(sd.g.ID)
	}
	if _, err := sd.st.Append(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// Sync alone, no node: a member pulls a history it lacks, a second pull is
// a no-op, and a peer without the secret is refused.
func TestPullWithoutNode(t *testing.T) {
	secret := envelope.NewSecret()
	a, b := newSide(t, secret), newSide(t, secret)
	a.seed(t, 40)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.h.Connect(ctx, peer.AddrInfo{ID: a.h.ID(), Addrs: a.h.ListenAddrs()}, p2p.SourceDirect); err != nil {
		t.Fatal(err)
	}
	pr, err := b.s.Pull(ctx, a.h.ID(), b.g)
	if err != nil || pr.Received != 40 {
		t.Fatalf("pull: %+v %v", pr, err)
	}
	if stats, err := b.st.GroupStats(b.g.ID); err != nil || stats.Count != 40 {
		t.Fatalf("b holds %+v %v", stats, err)
	}
	if pr, err := b.s.Pull(ctx, a.h.ID(), b.g); err != nil || pr.Received != 0 {
		t.Fatalf("second pull: %+v %v", pr, err)
	}

	outsider := newSide(t, envelope.NewSecret())
	outsider.g.ID = a.g.ID // it knows the id, not the secret
	if err := outsider.h.Connect(ctx, peer.AddrInfo{ID: a.h.ID(), Addrs: a.h.ListenAddrs()}, p2p.SourceDirect); err != nil {
		t.Fatal(err)
	}
	if _, err := outsider.s.Pull(ctx, a.h.ID(), outsider.g); !errors.Is(err, ErrDenied) {
		t.Fatalf("outsider pull: %v, want ErrDenied", err)
	}
}

// A key holder our log does not list asks for a sync: it is refused, and
// we pull from it and from one other member, since the message admitting
// it may be with neither of us yet (the joiner got the log in its join
// reply). Here only a holds that message; without the pull from a, b
// would never list c.
func TestUnlistedRequesterMakesUsPullElsewhere(t *testing.T) {
	secret := envelope.NewSecret()
	a, b, c := newSide(t, secret), newSide(t, secret), newSide(t, secret)
	a.seed(t, 5)
	b.g.Allow = func(p peer.ID) bool { return p != c.h.ID() }
	b.g.Peers = func() []peer.ID { return []peer.ID{a.h.ID(), c.h.ID()} }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, x := range []*side{a, c} {
		if err := b.h.Connect(ctx, peer.AddrInfo{ID: x.h.ID(), Addrs: x.h.ListenAddrs()}, p2p.SourceDirect); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.s.Pull(ctx, b.h.ID(), c.g); !errors.Is(err, ErrDenied) {
		t.Fatalf("unlisted pull: %v, want ErrDenied", err)
	}
	for {
		stats, err := b.st.GroupStats(b.g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Count == 5 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("b holds %d of a's 5 messages: it did not pull from a", stats.Count)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// A requester that hangs up before its hello is read is counted as a cut
// stream, not as malformed input; bytes that do not decode are malformed.
func TestServeCountsCutAndMalformedApart(t *testing.T) {
	secret := envelope.NewSecret()
	a, b := newSide(t, secret), newSide(t, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.h.Connect(ctx, peer.AddrInfo{ID: a.h.ID(), Addrs: a.h.ListenAddrs()}, p2p.SourceDirect); err != nil {
		t.Fatal(err)
	}
	waitDrop := func(want error) {
		t.Helper()
		for {
			for _, d := range a.dropped() {
				if errors.Is(d, want) {
					return
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no %v drop; drops: %v", want, a.dropped())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}

	st, err := b.h.NewStream(ctx, a.h.ID(), Protocol)
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte{0x20, 1, 2}) // a hello of 32 bytes, cut after 2
	st.Close()
	waitDrop(ErrCut)

	st, err = b.h.NewStream(ctx, a.h.ID(), Protocol)
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte{3, 0xff, 0xff, 0xff}) // 3 bytes that are no protobuf
	waitDrop(envelope.ErrMalformed)
	st.Reset()
	for _, d := range a.dropped() {
		if errors.Is(d, envelope.ErrMalformed) && errors.Is(d, ErrCut) {
			t.Errorf("one drop counted as both: %v", d)
		}
	}
	if n := countIs(a.dropped(), envelope.ErrMalformed); n != 1 {
		t.Errorf("%d malformed drops, want 1: %v", n, a.dropped())
	}
}

func countIs(errs []error, target error) int {
	n := 0
	for _, e := range errs {
		if errors.Is(e, target) {
			n++
		}
	}
	return n
}
