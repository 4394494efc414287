//go:build !race

package node

const raceEnabled = false

// timeoutFactor stretches testTimeout: the race detector slows the nodes
// several times, and a full -race run shares two cores among packages.
const timeoutFactor = 1
