package dmproto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCodeRoundTrip(t *testing.T) {
	c := &ContactCode{Peer: []byte("peer-id-bytes"), Name: "ana", HpkeKey: bytes.Repeat([]byte{7}, 32), Addrs: [][]byte{{1, 2}}}
	s, err := EncodeCode(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, CodePrefix) || len(s) > 200 {
		t.Fatalf("code %q", s)
	}
	got, err := DecodeCode(" " + strings.ToUpper(s[:20]) + "\n" + s[20:])
	if err != nil || got.Name != "ana" || string(got.Peer) != "peer-id-bytes" || len(got.Addrs) != 1 {
		t.Fatalf("decoded %+v %v", got, err)
	}
	for _, bad := range []string{"", "parley1abc", CodePrefix + "!!", CodePrefix + "aaaa", CodePrefix + strings.Repeat("a", MaxCodeLen)} {
		if _, err := DecodeCode(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := EncodeCode(&ContactCode{Peer: []byte("p")}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("code without key: %v", err)
	}
}

func TestOfferBounds(t *testing.T) {
	ok := &Offer{Version: Version, GroupSecret: make([]byte, SecretLen), Ops: [][]byte{{1}, {2}}}
	var buf bytes.Buffer
	if err := Write(&buf, ok); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOffer(&buf); err != nil {
		t.Fatal(err)
	}
	bad := []*Offer{
		{Version: 2, GroupSecret: make([]byte, SecretLen), Ops: [][]byte{{1}, {2}}},
		{Version: Version, GroupSecret: make([]byte, 8), Ops: [][]byte{{1}, {2}}},
		{Version: Version, GroupSecret: make([]byte, SecretLen), Ops: [][]byte{{1}}},
		{Version: Version, GroupSecret: make([]byte, SecretLen), Ops: make([][]byte, MaxOfferOps+1)},
		{Version: Version, GroupSecret: make([]byte, SecretLen), Ops: [][]byte{{1}, {}}},
	}
	for i, o := range bad {
		buf.Reset()
		Write(&buf, o)
		if _, err := ReadOffer(&buf); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d: %v", i, err)
		}
	}
	// Over the size bound: refused before it is parsed.
	buf.Reset()
	Write(&buf, &Offer{Version: Version, GroupSecret: make([]byte, SecretLen), Ops: [][]byte{make([]byte, MaxOffer)}})
	if _, err := ReadOffer(&buf); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized: %v", err)
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder: none may panic, and
// what one accepts re-encodes to something it accepts again.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, &Offer{Version: Version, GroupSecret: make([]byte, SecretLen), Ops: [][]byte{{1}, {2}}})
	f.Add(buf.Bytes())
	s, _ := EncodeCode(&ContactCode{Peer: []byte("p"), HpkeKey: []byte{1}, Name: "n"})
	f.Add([]byte(s))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, err := ReadOffer(bytes.NewReader(b)); err == nil {
			var w bytes.Buffer
			if err := Write(&w, o); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadOffer(&w); err != nil {
				t.Fatalf("re-encoded offer refused: %v", err)
			}
		}
		ReadReply(bytes.NewReader(b))
		if c, err := DecodeCode(string(b)); err == nil {
			if _, err := EncodeCode(c); err != nil {
				t.Fatalf("re-encoded code refused: %v", err)
			}
		}
	})
}
