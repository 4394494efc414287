package polls

import (
	"bytes"
	"slices"
	"sort"
)

// Poll is what the fold needs of a poll message.
type Poll struct {
	Options int    // number of options (2..10)
	Multi   bool   // several choices allowed
	Creator string // the poll's author
	// Deleted: a valid delete of the poll is held; every vote is ignored.
	Deleted bool
}

// Action is a vote or a close acting on the poll.
type Action struct {
	ID      [32]byte // message id: breaks Lamport ties
	Lamport uint64
	Author  string
	Close   bool
	Choices []int // a vote's 0-based choices; empty withdraws the vote
}

// Result is a poll's tally.
type Result struct {
	Counts []int            // votes per option
	Votes  map[string][]int // member -> their counted (non-empty) choices
	Closed bool
	// Deleted: the poll was deleted (no vote counts).
	Deleted bool
	// ClosedBy and CloseLamport are the first valid close's.
	ClosedBy     string
	CloseLamport uint64
}

// Voters lists the members whose counted vote includes option i, sorted.
func (r Result) Voters(i int) []string {
	var out []string
	for a, cs := range r.Votes {
		if slices.Contains(cs, i) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// ValidChoices reports whether choices is a vote the poll accepts: every
// index below the option count, no repeats, and at most one unless multi.
// An empty list (a withdrawal) is valid.
func ValidChoices(p Poll, choices []int) bool {
	if len(choices) > 1 && !p.Multi {
		return false
	}
	seen := make(map[int]bool, len(choices))
	for _, c := range choices {
		if c < 0 || c >= p.Options || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

func less(a, b *Action) bool {
	if a.Lamport != b.Lamport {
		return a.Lamport < b.Lamport
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

// Fold computes the tally. mayClose says whether an author other than the
// creator may close the poll (an admin or owner). The result depends only
// on the set of actions, not their order:
//   - the first valid close in (lamport, id) order closes the poll, and only
//     votes with a lower Lamport clock count;
//   - each member's latest valid vote in (lamport, id) order is their whole
//     vote; invalid votes are ignored; an empty vote withdraws;
//   - a deleted poll counts no votes.
func Fold(p Poll, actions []Action, mayClose func(author string) bool) Result {
	as := make([]*Action, len(actions))
	for i := range actions {
		as[i] = &actions[i]
	}
	sort.SliceStable(as, func(i, j int) bool { return less(as[i], as[j]) })
	r := Result{Counts: make([]int, max(p.Options, 0)), Votes: map[string][]int{}}
	for _, a := range as {
		if a.Close && (a.Author == p.Creator || (mayClose != nil && mayClose(a.Author))) {
			r.Closed, r.ClosedBy, r.CloseLamport = true, a.Author, a.Lamport
			break
		}
	}
	if p.Deleted {
		r.Deleted = true
		return r
	}
	for _, a := range as {
		if a.Close || (r.Closed && a.Lamport >= r.CloseLamport) || !ValidChoices(p, a.Choices) {
			continue
		}
		if len(a.Choices) == 0 {
			delete(r.Votes, a.Author)
			continue
		}
		cs := slices.Clone(a.Choices)
		slices.Sort(cs)
		r.Votes[a.Author] = cs
	}
	for _, cs := range r.Votes {
		for _, c := range cs {
			r.Counts[c]++
		}
	}
	return r
}
