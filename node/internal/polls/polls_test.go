package polls

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func act(id byte, lam uint64, author string, choices ...int) Action {
	return Action{ID: [32]byte{id}, Lamport: lam, Author: author, Choices: choices}
}

func closeBy(id byte, lam uint64, author string) Action {
	return Action{ID: [32]byte{id}, Lamport: lam, Author: author, Close: true}
}

func TestLatestVoteReplacesAndEmptyWithdraws(t *testing.T) {
	p := Poll{Options: 3, Creator: "c"}
	r := Fold(p, []Action{act(1, 5, "a", 0), act(2, 6, "a", 2), act(3, 5, "b", 1), act(4, 7, "b")}, nil)
	if !reflect.DeepEqual(r.Counts, []int{0, 0, 1}) || len(r.Votes) != 1 {
		t.Fatalf("counts %v votes %v", r.Counts, r.Votes)
	}
}

func TestInvalidVotesIgnored(t *testing.T) {
	p := Poll{Options: 2, Creator: "c"}
	// a's later vote is invalid (two choices, single-choice poll): the earlier stands.
	r := Fold(p, []Action{act(1, 5, "a", 0), act(2, 6, "a", 0, 1), act(3, 6, "b", 2), act(4, 7, "d", 1, 1)}, nil)
	if !reflect.DeepEqual(r.Counts, []int{1, 0}) {
		t.Fatalf("counts %v", r.Counts)
	}
	p.Multi = true
	r = Fold(p, []Action{act(1, 5, "a", 0), act(2, 6, "a", 1, 0)}, nil)
	if !reflect.DeepEqual(r.Counts, []int{1, 1}) || !reflect.DeepEqual(r.Votes["a"], []int{0, 1}) {
		t.Fatalf("multi counts %v votes %v", r.Counts, r.Votes)
	}
}

func TestCloseRules(t *testing.T) {
	p := Poll{Options: 2, Creator: "c"}
	admin := func(a string) bool { return a == "adm" }
	acts := []Action{
		act(1, 5, "a", 0),
		closeBy(2, 6, "x"), // not allowed: ignored
		act(3, 7, "b", 1),
		closeBy(4, 8, "adm"),
		act(5, 8, "d", 1), // same clock as the close: not counted
		act(6, 9, "a", 1), // after: a's earlier vote stands
		closeBy(7, 10, "c"),
	}
	r := Fold(p, acts, admin)
	if !r.Closed || r.ClosedBy != "adm" || r.CloseLamport != 8 {
		t.Fatalf("close %+v", r)
	}
	if !reflect.DeepEqual(r.Counts, []int{1, 1}) {
		t.Fatalf("counts %v", r.Counts)
	}
	if v := r.Voters(1); !reflect.DeepEqual(v, []string{"b"}) {
		t.Fatalf("voters %v", v)
	}
}

func TestDeletedCountsNothing(t *testing.T) {
	r := Fold(Poll{Options: 2, Creator: "c", Deleted: true}, []Action{act(1, 5, "a", 0)}, nil)
	if r.Counts[0] != 0 || len(r.Votes) != 0 {
		t.Fatalf("%+v", r)
	}
}

// actionsFrom turns fuzz bytes into a set of actions with distinct ids.
func actionsFrom(data []byte) []Action {
	var out []Action
	for i := 0; i+3 <= len(data) && len(out) < 200; i += 3 {
		a := Action{Lamport: uint64(data[i] % 16), Author: string(rune('a' + data[i+1]%5))}
		a.ID[0], a.ID[1] = byte(len(out)), byte(len(out)>>8)
		a.ID[2] = data[i+2]
		if data[i+2]%7 == 0 {
			a.Close = true
		} else {
			for b := 0; b < 4; b++ {
				if data[i+2]&(1<<b) != 0 {
					a.Choices = append(a.Choices, (int(data[i+2]>>4)+b)%5-1) // may be -1 or >= options
				}
			}
		}
		out = append(out, a)
	}
	return out
}

func FuzzFoldOrderIndependent(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(3), true, uint64(1))
	f.Add([]byte{0, 0, 7, 1, 1, 14, 2, 3, 1}, uint8(2), false, uint64(7))
	f.Fuzz(func(t *testing.T, data []byte, opts uint8, multi bool, seed uint64) {
		p := Poll{Options: int(opts%11) + 0, Multi: multi, Creator: "a"}
		acts := actionsFrom(data)
		mayClose := func(a string) bool { return a == "c" }
		want := Fold(p, acts, mayClose)
		rng := rand.New(rand.NewPCG(seed, seed^0x9e37))
		for range 3 {
			shuf := append([]Action(nil), acts...)
			rng.Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
			got := Fold(p, shuf, mayClose)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("order changed the tally:\n%+v\n%+v", got, want)
			}
		}
		total := 0
		for _, c := range want.Counts {
			if c < 0 {
				t.Fatalf("negative count %v", want.Counts)
			}
			total += c
		}
		n := 0
		for _, cs := range want.Votes {
			n += len(cs)
		}
		if n != total {
			t.Fatalf("counts %v disagree with votes %v", want.Counts, want.Votes)
		}
	})
}
