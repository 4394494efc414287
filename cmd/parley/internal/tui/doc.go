// Package tui is the full-screen terminal chat of `parley up`: a group list
// with unread counts, a message pane that pages history from the store as
// you scroll up, an input line with history and slash commands, and a status
// bar with the connection state, peer count and history catch-up progress.
//
// The model talks to a backend.Backend, which the running *node.Node
// satisfies; tests use a fake.
//
// Files: model.go (state, Update), groups.go (group list and message windows),
// events.go (node events), keys.go (keys), commands.go (slash commands through
// the shared chatcmd table), view.go (rendering), qr.go (invite QR codes).
package tui
