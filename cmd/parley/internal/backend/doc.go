// Package backend defines the one interface through which the front ends of a
// running node (the control API server and the full-screen chat) reach it.
// *node.Node implements it; tests use fakes.
package backend
