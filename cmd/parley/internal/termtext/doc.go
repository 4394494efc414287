// Package termtext makes untrusted text (message texts, display names, group
// names, addresses announced by peers) safe to print on a terminal. Every
// front end that writes such text to a terminal (the full-screen chat, the
// line chat, history and tail) goes through Sanitize, so an author cannot
// move the cursor, retitle the window, ring the bell or hide text from the
// reader with escape sequences or bidirectional overrides.
package termtext
