package dmproto

import (
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/libp2p/go-msgio/pbio"
	"google.golang.org/protobuf/proto"
)

// Protocol is the stream an offerer opens to the contact.
const Protocol = "/parley/dm/1.0.0"

// Version is the version of every message here.
const Version = 1

// Bounds.
const (
	CodePrefix   = "parleyc1"
	MaxCodeLen   = 2048
	MaxCodeAddrs = 8
	MaxNameLen   = 128
	MaxKeyLen    = 64
	MaxAddrLen   = 512
	MaxOfferOps  = 64
	MaxOpLen     = 64 << 10
	MaxOffer     = 1 << 20
	MaxReply     = 1024
	SecretLen    = 32
)

// Reply codes.
const (
	CodeBlocked  = "blocked"
	CodeBadOffer = "bad-offer"
	CodeInternal = "internal"
)

// ErrMalformed: a code or message breaks a bound or its version.
var ErrMalformed = errors.New("malformed direct-message data")

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeCode renders a contact code.
func EncodeCode(c *ContactCode) (string, error) {
	c.Version = Version
	if err := checkCode(c); err != nil {
		return "", err
	}
	b, err := proto.Marshal(c)
	if err != nil {
		return "", err
	}
	return CodePrefix + strings.ToLower(enc.EncodeToString(b)), nil
}

// DecodeCode parses a contact code (whitespace ignored, any case) and
// checks its bounds; the peer id's form is the caller's to check.
func DecodeCode(s string) (*ContactCode, error) {
	s = strings.Join(strings.Fields(s), "")
	if len(s) > MaxCodeLen || !strings.HasPrefix(strings.ToLower(s), CodePrefix) {
		return nil, fmt.Errorf("%w: not a parley contact code", ErrMalformed)
	}
	b, err := enc.DecodeString(strings.ToUpper(s[len(CodePrefix):]))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var c ContactCode
	if err := proto.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkCode(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

func checkCode(c *ContactCode) error {
	if c.Version != Version {
		return fmt.Errorf("%w: contact code version %d", ErrMalformed, c.Version)
	}
	if len(c.Peer) == 0 || len(c.Peer) > MaxKeyLen || len(c.HpkeKey) == 0 || len(c.HpkeKey) > MaxKeyLen ||
		len(c.Name) > MaxNameLen || len(c.Addrs) > MaxCodeAddrs {
		return fmt.Errorf("%w: contact code fields", ErrMalformed)
	}
	for _, a := range c.Addrs {
		if len(a) == 0 || len(a) > MaxAddrLen {
			return fmt.Errorf("%w: contact code address", ErrMalformed)
		}
	}
	return nil
}

// CheckOffer checks an offer's version and bounds.
func CheckOffer(o *Offer) error {
	if o.Version != Version || len(o.GroupSecret) != SecretLen || len(o.Ops) < 2 || len(o.Ops) > MaxOfferOps ||
		len(o.HpkeKey) > MaxKeyLen || len(o.Addrs) > MaxCodeAddrs || o.CreatedMs < 0 {
		return fmt.Errorf("%w: offer fields", ErrMalformed)
	}
	for _, op := range o.Ops {
		if len(op) == 0 || len(op) > MaxOpLen {
			return fmt.Errorf("%w: offer op of %d bytes", ErrMalformed, len(op))
		}
	}
	for _, a := range o.Addrs {
		if len(a) == 0 || len(a) > MaxAddrLen {
			return fmt.Errorf("%w: offer address", ErrMalformed)
		}
	}
	return nil
}

// CheckReply checks a reply's version and bounds.
func CheckReply(r *Reply) error {
	if r.Version != Version || len(r.Code) > 32 || len(r.Error) > 512 {
		return fmt.Errorf("%w: reply fields", ErrMalformed)
	}
	return nil
}

// ReadOffer reads one length-delimited offer and checks it.
func ReadOffer(r io.Reader) (*Offer, error) {
	var o Offer
	if err := pbio.NewDelimitedReader(r, MaxOffer).ReadMsg(&o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := CheckOffer(&o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ReadReply reads one length-delimited reply and checks it.
func ReadReply(r io.Reader) (*Reply, error) {
	var rep Reply
	if err := pbio.NewDelimitedReader(r, MaxReply).ReadMsg(&rep); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := CheckReply(&rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Write writes one length-delimited message.
func Write(w io.Writer, m proto.Message) error { return pbio.NewDelimitedWriter(w).WriteMsg(m) }
