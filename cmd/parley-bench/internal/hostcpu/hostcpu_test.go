package hostcpu

import (
	"math"
	"testing"
)

func TestParseAndSteal(t *testing.T) {
	a := parse("cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 1 2 3\n")
	if a.Total != 1000 || a.Steal != 35 {
		t.Fatalf("parsed %+v, want total 1000 steal 35", a)
	}
	b := parse("cpu  200 0 100 1400 10 0 5 285 7 0\n")
	if got := StealPercent(a, b); math.Abs(got-25) > 1e-9 {
		t.Fatalf("steal %.2f%%, want 25%%", got)
	}
	if got := StealPercent(b, a); got != 0 {
		t.Fatalf("steal going backwards gave %.2f%%, want 0", got)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "cpu 1 2 3", "intr 1 2 3 4 5 6 7 8 9", "cpu 1 2 3 4 5 6 7 x 9"} {
		if got := parse(s); got != (Ticks{}) {
			t.Errorf("parse(%q) = %+v, want zero", s, got)
		}
	}
}

func TestReadOnThisMachine(t *testing.T) {
	a := Read()
	if a.Total == 0 {
		t.Skip("no /proc/stat here")
	}
	if a.Steal > a.Total {
		t.Fatalf("steal %d above total %d", a.Steal, a.Total)
	}
}
