package membership

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/membership/memberpb"
)

// Encode returns o's transport form (protobuf).
func (o *Op) Encode() []byte {
	pb := &memberpb.Op{
		Version: o.Version, Author: o.Author[:], Lamport: o.Lamport, TimeMs: o.Time, Kind: uint32(o.Kind),
		HpkeKey: o.HPKEKey, Name: o.Name, GroupName: o.GroupName, Role: uint32(o.Role),
		InviteExpiryMs: o.InviteExpiry, InviteMaxUses: o.InviteMaxUses, InviteProof: o.InviteProof,
		Challenge: o.Challenge, Signature: o.Signature,
	}
	opt := func(b []byte, zero bool) []byte {
		if zero {
			return nil
		}
		return b
	}
	pb.Group = opt(o.Group[:], o.Group == GroupID{})
	pb.Subject = opt(o.Subject[:], o.Subject == Key{})
	pb.InviteId = opt(o.InviteID[:], o.InviteID == InviteID{})
	pb.InviteKey = opt(o.InviteKey[:], o.InviteKey == Key{})
	pb.Epoch = opt(o.Epoch[:], o.Epoch == OpID{})
	pb.KeyCommit = opt(o.KeyCommit[:], o.KeyCommit == [32]byte{})
	for _, p := range o.Parents {
		pb.Parents = append(pb.Parents, p[:])
	}
	for _, s := range o.Sealed {
		pb.Sealed = append(pb.Sealed, &memberpb.Sealed{Recipient: s.Recipient[:], Ciphertext: s.Ciphertext})
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb)
	if err != nil {
		panic(err) // a plain message of bytes and integers always marshals
	}
	return b
}

// DecodeOp parses and fully validates an op (shape, lengths, signature). It
// never reads more than MaxOpSize bytes.
func DecodeOp(b []byte) (*Op, error) {
	if len(b) > MaxOpSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	var pb memberpb.Op
	if err := proto.Unmarshal(b, &pb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if pb.Kind > uint32(kindMax) || pb.Role > uint32(RoleOwner) {
		return nil, fmt.Errorf("%w: kind %d role %d", ErrMalformed, pb.Kind, pb.Role)
	}
	if len(pb.Parents) > MaxParents || len(pb.Sealed) > MaxSealed {
		return nil, fmt.Errorf("%w: too many parents or sealed secrets", ErrMalformed)
	}
	o := &Op{
		Version: pb.Version, Lamport: pb.Lamport, Time: pb.TimeMs, Kind: Kind(pb.Kind),
		HPKEKey: pb.HpkeKey, Name: pb.Name, GroupName: pb.GroupName, Role: Role(pb.Role),
		InviteExpiry: pb.InviteExpiryMs, InviteMaxUses: pb.InviteMaxUses, InviteProof: pb.InviteProof,
		Challenge: pb.Challenge, Signature: pb.Signature,
	}
	fixed := []struct {
		dst  []byte
		src  []byte
		what string
	}{
		{o.Group[:], pb.Group, "group"}, {o.Author[:], pb.Author, "author"}, {o.Subject[:], pb.Subject, "subject"},
		{o.InviteID[:], pb.InviteId, "invite id"}, {o.InviteKey[:], pb.InviteKey, "invite key"},
		{o.Epoch[:], pb.Epoch, "epoch"}, {o.KeyCommit[:], pb.KeyCommit, "key commitment"},
	}
	for _, f := range fixed {
		if err := copyFixed(f.dst, f.src, f.what); err != nil {
			return nil, err
		}
	}
	if o.Author == (Key{}) {
		return nil, fmt.Errorf("%w: no author", ErrMalformed)
	}
	o.Parents = make([]OpID, len(pb.Parents))
	for i, p := range pb.Parents {
		if err := copyFixed(o.Parents[i][:], p, "parent"); err != nil || len(p) == 0 {
			return nil, fmt.Errorf("%w: parent of %d bytes", ErrMalformed, len(p))
		}
	}
	if len(o.Parents) == 0 {
		o.Parents = nil
	}
	for _, s := range pb.Sealed {
		var r Key
		if len(s.Recipient) != len(r) {
			return nil, fmt.Errorf("%w: sealed recipient of %d bytes", ErrMalformed, len(s.Recipient))
		}
		copy(r[:], s.Recipient)
		o.Sealed = append(o.Sealed, Sealed{Recipient: r, Ciphertext: s.Ciphertext})
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// copyFixed copies an optional fixed-size field: empty means zero.
func copyFixed(dst, src []byte, what string) error {
	if len(src) == 0 {
		return nil
	}
	if len(src) != len(dst) {
		return fmt.Errorf("%w: %s of %d bytes", ErrMalformed, what, len(src))
	}
	copy(dst, src)
	return nil
}
