// Package polls folds a poll's votes and closes into its tally. It is pure
// (no store, no network) so every node, given the same set of actions,
// computes the same tally whatever order they arrived in (docs/polls.md).
package polls
