// Package filepb holds the wire messages of the file transfer protocol
// /parley/file/1.0.0 (generated from file.proto; see docs/files.md).
package filepb
