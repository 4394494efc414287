package bench

import (
	"context"
	"math"
	"time"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/hostcpu"
)

// The throughput search. Every step is judged only on its own messages
// (unique keys, a fresh recorder) and starts from a quiet cluster
// (quiesce), so its verdict does not depend on the step before. Bisection
// alone still depends on the path: one unlucky step moves the bracket for
// good. So the brackets are recomputed from every step so far (the lowest
// failing rate bounds the search; the figure is the highest passing rate
// below it), and the final rate of each figure must pass twice.

// searchTolerance ends bisection once the lowest failing rate is within 10%
// of the highest passing one.
const searchTolerance = 1.1

// confirmReserve is how many steps bisection leaves for the confirmations.
const confirmReserve = 2

// stepFunc runs one step at an offered rate and reports what it measured;
// the search sets Pass and PassP99.
type stepFunc func(ctx context.Context, rate float64) (RunSummary, error)

// criterion is what a step must meet for a figure.
type criterion int

const (
	critZeroLoss criterion = iota // every node stores every message, at >= 90% of the offered rate
	critP99                       // the same, and p99 to all members within the bound
)

// searchFigure is one throughput figure of one search.
type searchFigure struct {
	Rate      float64 // highest offered rate that passed, below every failing one
	Delivered float64 // the lowest delivered rate among the passing steps at Rate
	Confirmed bool    // Rate passed at least twice
	AtMaxRate bool    // Rate is the highest rate the search may try: the real figure may be higher
}

// searchOutcome is one full search: both figures and every step.
type searchOutcome struct {
	ZeroLoss searchFigure
	P99      searchFigure
	Steps    []RunSummary
}

type searcher struct {
	step    stepFunc
	maxRate float64
	boundMs float64
	left    int
	report  func(RunSummary)
	steps   []RunSummary
}

// searchRates doubles the offered rate from start until a step loses
// messages (or maxRate passes), bisects the zero-loss bracket, then the
// p99 bracket, and finally repeats the final rate of each figure until it
// has passed twice; all within maxSteps steps.
func searchRates(ctx context.Context, start, maxRate float64, maxSteps int, boundMs float64, step stepFunc, report func(RunSummary)) (searchOutcome, error) {
	s := &searcher{step: step, maxRate: maxRate, boundMs: boundMs, left: maxSteps, report: report}
	if s.report == nil {
		s.report = func(RunSummary) {}
	}
	rate := math.Round(min(start, maxRate))
	for s.left > 0 {
		if err := s.run(ctx, rate); err != nil {
			return s.outcome(), err
		}
		if _, hi := s.bracket(critZeroLoss); hi > 0 || rate >= maxRate || s.left <= confirmReserve {
			break
		}
		rate = math.Round(min(rate*2, maxRate))
	}
	for _, c := range []criterion{critZeroLoss, critP99} {
		for s.left > confirmReserve {
			next, ok := s.next(c)
			if !ok {
				break
			}
			if err := s.run(ctx, next); err != nil {
				return s.outcome(), err
			}
		}
	}
	for _, c := range []criterion{critZeroLoss, critP99} {
		for s.left > 0 {
			lo, _ := s.bracket(c)
			if lo == 0 || s.passes(c, lo) >= 2 {
				break
			}
			if err := s.run(ctx, lo); err != nil {
				return s.outcome(), err
			}
		}
	}
	return s.outcome(), nil
}

func (s *searcher) run(ctx context.Context, rate float64) error {
	r, err := s.step(ctx, rate)
	if err != nil {
		return err
	}
	s.left--
	r.Rate = rate
	r.Pass = r.Lost == 0 && r.SendErrors == 0 && r.DeliverRate >= 0.9*rate
	r.PassP99 = r.Pass && r.AllMembers.P99 <= s.boundMs
	s.steps = append(s.steps, r)
	s.report(r)
	return nil
}

func meets(c criterion, r RunSummary) bool {
	if c == critZeroLoss {
		return r.Pass
	}
	return r.PassP99
}

// bracket is the lowest failing rate (hi, 0 if none) and the highest rate
// below it that passed (lo, 0 if none) for criterion c, over every step.
func (s *searcher) bracket(c criterion) (lo, hi float64) {
	for _, r := range s.steps {
		if !meets(c, r) && (hi == 0 || r.Rate < hi) {
			hi = r.Rate
		}
	}
	for _, r := range s.steps {
		if meets(c, r) && (hi == 0 || r.Rate < hi) && r.Rate > lo {
			lo = r.Rate
		}
	}
	return lo, hi
}

// passes counts the steps at rate that met c.
func (s *searcher) passes(c criterion, rate float64) int {
	n := 0
	for _, r := range s.steps {
		if r.Rate == rate && meets(c, r) {
			n++
		}
	}
	return n
}

// next is the rate to try to narrow c's bracket, if it needs narrowing.
func (s *searcher) next(c criterion) (float64, bool) {
	lo, hi := s.bracket(c)
	switch {
	case hi == 0:
		return 0, false
	case lo == 0:
		r := math.Round(hi / 2)
		return r, r >= 1
	case hi/lo < searchTolerance || hi-lo < 2:
		return 0, false
	default:
		return math.Round((lo + hi) / 2), true
	}
}

func (s *searcher) figure(c criterion) searchFigure {
	lo, hi := s.bracket(c)
	f := searchFigure{Rate: lo, Confirmed: lo > 0 && s.passes(c, lo) >= 2, AtMaxRate: lo > 0 && hi == 0 && lo >= s.maxRate}
	for _, r := range s.steps {
		if r.Rate == lo && meets(c, r) && (f.Delivered == 0 || r.DeliverRate < f.Delivered) {
			f.Delivered = r.DeliverRate
		}
	}
	return f
}

func (s *searcher) outcome() searchOutcome {
	return searchOutcome{ZeroLoss: s.figure(critZeroLoss), P99: s.figure(critP99), Steps: s.steps}
}

// startRate is where the doubling starts for a message size.
func startRate(size int, maxRate float64) float64 {
	if size > 1024 {
		return min(500, maxRate)
	}
	return min(1000, maxRate)
}

// systemStep is one throughput step on a real cluster: wait until the
// cluster is quiet, then a paced run of cfg.StepDuration.
func systemStep(cfg *Config, sys system, size int, idle float64) stepFunc {
	return func(ctx context.Context, rate float64) (RunSummary, error) {
		return retryUnderSteal(func() (RunSummary, error) {
			quiet := quiesce(ctx, sys, idle)
			r, err := paced(ctx, sys, cfg.Senders, rate, cfg.StepDuration, size, cfg.Drain)
			if err != nil {
				return RunSummary{}, err
			}
			s := summarize(r, idle)
			s.allMs, s.eachMs = nil, nil
			s.Backlog = !quiet
			return s, nil
		})
	}
}

// retryUnderSteal runs a throughput step, and again while it fails with
// the CPUs taken by a neighbour: such a failure says nothing of the rate.
// A step that passed would also have passed undisturbed. The least
// disturbed run counts.
func retryUnderSteal(run func() (RunSummary, error)) (RunSummary, error) {
	var best RunSummary
	for try := 0; try <= stealRetries; try++ {
		s, err := run()
		if err != nil {
			return RunSummary{}, err
		}
		s.StealRetries = try
		if (s.Pass && s.PassP99) || s.StealPct <= stealRetryPercent {
			return s, nil
		}
		if try == 0 || s.StealPct < best.StealPct {
			best = s
		}
		best.StealRetries = try
	}
	return best, nil
}

// A throughput step that fails with more than stealRetryPercent of the
// machine's CPU time stolen is run again, up to stealRetries times, and the
// least disturbed run counts.
const (
	stealRetryPercent = 2 * hostcpu.StealWarnPercent
	stealRetries      = 2
)

// quiesce waits until the previous step has left nothing behind: no more
// late deliveries for 300 ms (an overloaded step's queued messages and
// history syncs) and the process back near the idle cluster's CPU use
// (stores flushing, pubsub queues emptying). Senders have already returned
// (paced waits for every send in flight). It reports whether both held
// within their limits; a step that started on a backlog is marked so.
func quiesce(ctx context.Context, sys system, idle float64) bool {
	a := settleDeliveries(ctx, sys, 300*time.Millisecond, 30*time.Second)
	b := settleCPU(ctx, meterOf(sys), idle, 15*time.Second)
	return a && b
}
