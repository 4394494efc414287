// Package cli is the parley command line: the node (daemon, up) and the
// client commands that talk to a running node over its control API, or read
// the local store when no node runs.
//
// Client commands fail loudly: unknown subcommands and bad arguments exit 1
// with the usage, and they refuse a profile that does not exist (strict.go).
// Read commands go through the node's API or, when none runs, read the store
// briefly without ever making a starting node fail (read.go). Every command
// that opens the store passes the passphrase of an encrypted one
// (passphrase.go). Membership commands are in membership.go.
package cli
