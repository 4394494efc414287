// Package filebench measures file transfer between two Parley nodes running
// as separate processes on loopback: the throughput of a fetch
// (/parley/file/1.0.0: chunks sealed, proved, written and fsynced) next to a
// plain libp2p stream copying the same bytes between the same two hosts in
// the same run, and the peak resident memory (VmHWM) of either process.
// The parent process fetches; a child process (the same binary, started
// with the hidden --files-child flag) creates the file, sends it and serves.
// A run has several rounds (--files-rounds), each with a fresh fetching node
// and the plain copy and the fetch in alternating order; the median ratio is
// reported, with the load average, since the machine may be shared.
package filebench
