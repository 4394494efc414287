// Package wirepb holds Parley's protobuf wire format (wire.proto) and its
// generated Go code. Regenerate with `go generate ./...` (needs protoc and
// protoc-gen-go on PATH).
//
// The format is pinned by golden encodings of every message in testdata/
// (golden_test.go): an incompatible change fails the tests. Rewrite them
// with `go test ./node/wirepb -run TestGolden -update` only for a deliberate,
// compatible change (a new field, say).
package wirepb
