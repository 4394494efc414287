// Package files is Parley's file transfer without the messenger: a file is
// cut into chunks, each sealed with the file's own random key, and a hash
// tree over the sealed chunks names it (its root). The package keeps the
// chunks of each root under a directory of the profile (a sparse data file
// plus a persisted bitfield, so a fetch resumes after a crash), serves them
// over /parley/file/1.0.0 to peers an authorizer accepts, and fetches them
// from several peers at once, checking each chunk alone against the root.
// See docs/files.md.
package files
