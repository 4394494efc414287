// Package memberpb holds the protobuf transport form of Parley membership
// operations (membership.proto) and its generated Go code. Regenerate with
// `go generate ./...` (needs protoc and protoc-gen-go on PATH).
package memberpb
