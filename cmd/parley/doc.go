// Command parley is the Parley messenger: run a node (parley up, parley
// daemon) and talk to it (parley send, history, tail, groups, ...).
package main
