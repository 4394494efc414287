// Package profile manages a Parley profile on disk for the CLI: its
// directory under $PARLEY_HOME, the paths inside it, and the runtime files
// (api.json, token) that a running node leaves for client commands. The
// store and the identity kept in it belong to package node (node.New,
// node.EnsureIdentity).
package profile
