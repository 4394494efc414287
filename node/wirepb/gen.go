// Package wirepb holds Parley's protobuf wire format (wire.proto) and its
// generated Go code. Regenerate with `go generate ./...` (needs protoc and
// protoc-gen-go on PATH).
package wirepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative wire.proto
