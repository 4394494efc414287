package membership

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
)

// MaxSkip bounds how far ahead of the next expected index a receiver derives
// keys for (out-of-order or lost messages), and so how many skipped message
// keys it keeps per sender chain.
const MaxSkip = 2000

// ChainKey is a per-sender ratchet chain key.
type ChainKey [32]byte

// MessageKey encrypts exactly one message (the node's AEAD key).
type MessageKey [32]byte

// chainStart is ck_0 for sender in an epoch: HKDF-SHA256 of the epoch secret
// with the epoch id and the sender's key in the info, so no two senders or
// epochs share a chain.
func chainStart(epochSecret []byte, epoch OpID, sender Key) ChainKey {
	info := "parley/membership/chain/v1" + string(epoch[:]) + string(sender[:])
	b, err := hkdf.Key(sha256.New, epochSecret, nil, info, 32)
	if err != nil {
		panic(err)
	}
	return ChainKey(b)
}

// step returns message key HMAC(ck, 0x01) and next chain key HMAC(ck, 0x02)
// (Signal's sender-key chain).
func (ck *ChainKey) step() (MessageKey, ChainKey) {
	mac := func(c byte) [32]byte {
		h := hmac.New(sha256.New, ck[:])
		h.Write([]byte{c})
		var out [32]byte
		h.Sum(out[:0])
		return out
	}
	return mac(0x01), mac(0x02)
}

// SendChain is the local member's sending ratchet in one epoch. The node
// persists Index and Key after every Next (never an older value).
type SendChain struct {
	Epoch OpID
	Index uint32   // index of the next message
	Chain ChainKey // chain key for Index; older ones are gone
}

// NewSendChain starts self's sending chain for an epoch.
func NewSendChain(epochSecret []byte, epoch OpID, self Key) *SendChain {
	return &SendChain{Epoch: epoch, Chain: chainStart(epochSecret, epoch, self)}
}

// Next returns the key for the next message and its index, and advances the
// chain (the used chain key is overwritten).
func (c *SendChain) Next() (uint32, MessageKey) {
	mk, next := c.Chain.step()
	i := c.Index
	c.Chain, c.Index = next, c.Index+1
	return i, mk
}

// RecvChain is the receiving ratchet for one (epoch, sender). Skipped holds
// keys of indexes passed over (at most MaxSkip); a key is deleted once used.
type RecvChain struct {
	Epoch   OpID
	Sender  Key
	Index   uint32   // next index not yet derived
	Chain   ChainKey // chain key for Index
	Skipped map[uint32]MessageKey
}

// NewRecvChain starts the receiving chain for sender in an epoch.
func NewRecvChain(epochSecret []byte, epoch OpID, sender Key) *RecvChain {
	return &RecvChain{Epoch: epoch, Sender: sender, Chain: chainStart(epochSecret, epoch, sender),
		Skipped: map[uint32]MessageKey{}}
}

// Take returns the message key for index and forgets it: asking twice gives
// ErrKeyGone (a replay, or a key already used or evicted). An index more than
// MaxSkip ahead gives ErrTooFarAhead and changes nothing. When more than
// MaxSkip skipped keys are held, the oldest are evicted (those messages are
// then lost). The caller should only call Take once the message's signature
// has been checked, so a forged index cannot burn keys.
func (c *RecvChain) Take(index uint32) (MessageKey, error) {
	if index < c.Index {
		mk, ok := c.Skipped[index]
		if !ok {
			return MessageKey{}, fmt.Errorf("%w: index %d", ErrKeyGone, index)
		}
		delete(c.Skipped, index)
		return mk, nil
	}
	if index-c.Index > MaxSkip {
		return MessageKey{}, fmt.Errorf("%w: index %d, next %d", ErrTooFarAhead, index, c.Index)
	}
	for c.Index < index {
		mk, next := c.Chain.step()
		c.Skipped[c.Index] = mk
		c.Chain, c.Index = next, c.Index+1
	}
	mk, next := c.Chain.step()
	c.Chain, c.Index = next, c.Index+1
	if over := len(c.Skipped) - MaxSkip; over > 0 {
		old := slices.Sorted(maps.Keys(c.Skipped))
		for _, i := range old[:over] {
			delete(c.Skipped, i)
		}
	}
	return mk, nil
}
