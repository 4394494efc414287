// Package files is Parley's file transfer without the messenger: a file is
// cut into chunks, each sealed with the file's own random key (AES-256-GCM),
// and a hash tree over the plaintext chunks, bound to the key, names it (its
// root; files of the first format: ChaCha20-Poly1305 and a tree over the
// sealed chunks, see crypt.go). The package keeps the
// chunks of each root under a directory of the profile (a sparse data file
// plus a persisted bitfield, so a fetch resumes after a crash), serves them
// over /parley/file/1.0.0 to peers an authorizer accepts, and fetches them
// from several peers at once, checking each chunk alone against the root.
// See docs/files.md.
package files
