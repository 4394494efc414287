package wirepb_test

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/parley-chat/parley/node/wirepb"
)

// wireTypes lists every message type of wire.proto, in file order.
func wireTypes(t testing.TB) []protoreflect.MessageType {
	msgs := wirepb.File_wire_proto.Messages()
	out := make([]protoreflect.MessageType, msgs.Len())
	for i := range out {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(msgs.Get(i).FullName())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = mt
	}
	return out
}

// FuzzUnmarshal decodes arbitrary bytes as any wire message (the first byte
// picks the type): decoding never panics, and what decodes re-encodes to
// bytes that decode to the same message. The golden encodings seed it.
//
//	go test ./node/wirepb -run '^$' -fuzz FuzzUnmarshal -fuzztime 30s
func FuzzUnmarshal(f *testing.F) {
	types := wireTypes(f)
	index := map[protoreflect.FullName]byte{}
	for i, mt := range types {
		index[mt.Descriptor().FullName()] = byte(i)
	}
	for _, c := range goldenCases() {
		text, err := os.ReadFile(goldenPath(c.name))
		if err != nil {
			f.Fatal(err)
		}
		b, err := decodeGolden(text)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{index[c.msg.ProtoReflect().Descriptor().FullName()]}, b...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mt := types[int(data[0])%len(types)]
		m := mt.New().Interface()
		if err := proto.Unmarshal(data[1:], m); err != nil {
			return
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("%s decoded but does not re-encode: %v", mt.Descriptor().FullName(), err)
		}
		again := mt.New().Interface()
		if err := proto.Unmarshal(b, again); err != nil {
			t.Fatalf("%s re-encoding does not decode: %v", mt.Descriptor().FullName(), err)
		}
		if !proto.Equal(m, again) {
			t.Fatalf("%s changed across a round trip:\n%v\n%v", mt.Descriptor().FullName(), m, again)
		}
	})
}
