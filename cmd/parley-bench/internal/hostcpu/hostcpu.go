// Package hostcpu reads what the machine as a whole did with its CPUs: the
// load average and the time the hypervisor gave to other guests (steal).
//
// The load average cannot tell a busy neighbour on a virtual machine from
// our own threads, so a run on a shared host looked clean while a quarter of
// the CPU time went elsewhere: steal is what says so. Linux only; elsewhere
// every figure is zero (unknown).
package hostcpu

import (
	"os"
	"strconv"
	"strings"
)

// Ticks is one reading of the machine-wide CPU counters of /proc/stat.
type Ticks struct {
	Total uint64 // every state, steal included
	Steal uint64 // runnable, but the hypervisor ran someone else
}

// Read returns the counters now (zero if /proc/stat cannot be read).
func Read() Ticks {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Ticks{}
	}
	return parse(string(b))
}

// parse reads the "cpu " line: user nice system idle iowait irq softirq
// steal guest guest_nice. Guest time is already inside user and nice.
func parse(stat string) Ticks {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return Ticks{}
	}
	var t Ticks
	for i, s := range f[1:9] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Ticks{}
		}
		t.Total += v
		if i == 7 {
			t.Steal = v
		}
	}
	return t
}

// StealPercent is the share of all CPU time between a and b that was
// stolen, in percent (0 when unknown).
func StealPercent(a, b Ticks) float64 {
	if b.Total <= a.Total || b.Steal < a.Steal {
		return 0
	}
	return 100 * float64(b.Steal-a.Steal) / float64(b.Total-a.Total)
}

// StealWarnPercent is the steal share above which a report warns that
// latency and throughput are pessimistic.
const StealWarnPercent = 5

// LoadAvg is the 1-minute load average (0 if unknown).
func LoadAvg() float64 {
	f := loadFields()
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// LoadAvgs is the 1, 5 and 15-minute load averages as printed by the
// kernel ("?" if unknown).
func LoadAvgs() string {
	if f := loadFields(); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func loadFields() []string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
