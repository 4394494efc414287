// Package web is Parley's browser front end: a small chat app (plain HTML,
// CSS and JavaScript, no build step) embedded in the binary and served by the
// running node's control API server on loopback. The assets hold no data and
// are served without the token; the page reads the token from the URL
// fragment that `parley web` prints and sends it as a bearer token on every
// /v1 call, so nothing works without it.
package web
