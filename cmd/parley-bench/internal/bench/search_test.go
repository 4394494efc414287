package bench

import (
	"context"
	"errors"
	"math"
	"testing"
)

func TestSpreadOf(t *testing.T) {
	for _, c := range []struct {
		in            []float64
		med, min, max float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{0.89, 0.50, 0.70, 0.70, 0.60}, 0.70, 0.50, 0.89},
	} {
		s := spreadOf(c.in)
		if s.Median != c.med || s.Min != c.min || s.Max != c.max {
			t.Errorf("spreadOf(%v) = %+v, want median %v min %v max %v", c.in, s, c.med, c.min, c.max)
		}
		if len(s.Values) != len(c.in) || s.Values[0] != c.in[0] {
			t.Errorf("spreadOf(%v): values %v, want them in measured order", c.in, s.Values)
		}
	}
	if s := spreadOf(nil); s.Median != 0 || s.Values != nil {
		t.Errorf("spreadOf(nil) = %+v", s)
	}
	if r := spreadOf([]float64{90, 100, 110}).RelSpread(); math.Abs(r-0.2) > 1e-9 {
		t.Errorf("RelSpread = %v, want 0.2", r)
	}
	if ratioOf(1, 0) != 0 || ratioOf(0, 1) != 0 || ratioOf(3, 4) != 0.75 {
		t.Error("ratioOf")
	}
}

// fakeSystem loses messages above lossAt msgs/s; its p99 to all members is
// rate/20 ms; it delivers 98% of the offered rate. noisy rates fail once.
type fakeSystem struct {
	lossAt float64
	noisy  map[float64]bool
	steps  int
}

func (f *fakeSystem) step(_ context.Context, rate float64) (RunSummary, error) {
	f.steps++
	s := RunSummary{DeliverRate: 0.98 * rate, AllMembers: Percentiles{P99: rate / 20}}
	if rate > f.lossAt {
		s.Lost, s.DeliverRate = 10, 0
	}
	if f.noisy[rate] {
		delete(f.noisy, rate)
		s.Lost, s.DeliverRate = 1, 0
	}
	return s, nil
}

func TestSearchFindsBothFigures(t *testing.T) {
	f := &fakeSystem{lossAt: 3000}
	var reported int
	o, err := searchRates(context.Background(), 1000, 20000, 12, 100, f.step, func(RunSummary) { reported++ })
	if err != nil {
		t.Fatal(err)
	}
	if reported != len(o.Steps) || f.steps != len(o.Steps) || len(o.Steps) > 12 {
		t.Errorf("%d steps run, %d reported, %d kept", f.steps, reported, len(o.Steps))
	}
	// Zero loss up to 3000: the figure is within the 10% tolerance below it.
	if z := o.ZeroLoss; z.Rate > 3000 || z.Rate < 3000/searchTolerance || !z.Confirmed || z.AtMaxRate || z.Delivered != 0.98*z.Rate {
		t.Errorf("zero loss: %+v, want a confirmed rate in [%.0f, 3000]", z, 3000/searchTolerance)
	}
	// p99 = rate/20 <= 100 ms up to 2000 msgs/s.
	if p := o.P99; p.Rate > 2000 || p.Rate < 2000/searchTolerance || !p.Confirmed || p.Delivered != 0.98*p.Rate {
		t.Errorf("p99 bound: %+v, want a confirmed rate in [%.0f, 2000]", p, 2000/searchTolerance)
	}
	for _, s := range o.Steps {
		if s.Pass != (s.Rate <= 3000) || s.PassP99 != (s.Rate <= 2000) {
			t.Errorf("step at %.0f: pass %v, pass p99 %v", s.Rate, s.Pass, s.PassP99)
		}
	}
	// The same search gives the same figures: no hidden state.
	o2, _ := searchRates(context.Background(), 1000, 20000, 12, 100, (&fakeSystem{lossAt: 3000}).step, nil)
	if o2.ZeroLoss != o.ZeroLoss || o2.P99 != o.P99 {
		t.Errorf("not deterministic: %+v / %+v vs %+v / %+v", o.ZeroLoss, o.P99, o2.ZeroLoss, o2.P99)
	}
}

// A passing rate that fails its confirmation is not the figure: the search
// falls back to the next lower rate and confirms that one.
func TestSearchConfirmationCatchesALuckyStep(t *testing.T) {
	// The first search ends on 2875 for zero loss (see above); make its
	// confirmation fail once.
	first, _ := searchRates(context.Background(), 1000, 20000, 12, 100, (&fakeSystem{lossAt: 3000}).step, nil)
	lucky := first.ZeroLoss.Rate
	f := &fakeSystem{lossAt: 3000, noisy: map[float64]bool{}}
	var seen int
	o, err := searchRates(context.Background(), 1000, 20000, 14, 100, func(ctx context.Context, rate float64) (RunSummary, error) {
		if rate == lucky {
			seen++
			if seen == 2 {
				f.noisy[rate] = true
			}
		}
		return f.step(ctx, rate)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if seen < 2 {
		t.Fatalf("%.0f was tried %d times, want its confirmation", lucky, seen)
	}
	if o.ZeroLoss.Rate >= lucky || !o.ZeroLoss.Confirmed {
		t.Errorf("zero loss %+v, want a confirmed rate below %.0f (which failed its confirmation)", o.ZeroLoss, lucky)
	}
}

func TestSearchEdges(t *testing.T) {
	// Everything passes: the figure is the cap, flagged.
	o, err := searchRates(context.Background(), 1000, 4000, 12, 1e9, (&fakeSystem{lossAt: 1e9}).step, nil)
	if err != nil || o.ZeroLoss.Rate != 4000 || !o.ZeroLoss.AtMaxRate || !o.ZeroLoss.Confirmed || o.P99.Rate != 4000 {
		t.Errorf("all pass: %+v / %+v (%v)", o.ZeroLoss, o.P99, err)
	}
	// The start rate already fails: halve until a rate passes.
	o, _ = searchRates(context.Background(), 1000, 20000, 12, 100, (&fakeSystem{lossAt: 300}).step, nil)
	if z := o.ZeroLoss; z.Rate > 300 || z.Rate < 300/searchTolerance || !z.Confirmed {
		t.Errorf("start too high: %+v", z)
	}
	// Nothing passes: figures are zero, and the step budget holds.
	f := &fakeSystem{lossAt: 0}
	o, _ = searchRates(context.Background(), 1000, 20000, 5, 100, f.step, nil)
	if o.ZeroLoss.Rate != 0 || o.P99.Rate != 0 || f.steps == 0 || f.steps > 5 {
		t.Errorf("nothing passes: %+v / %+v after %d steps", o.ZeroLoss, o.P99, f.steps)
	}
	// A step error stops the search and is returned with the steps so far.
	boom := errors.New("boom")
	n := 0
	o, err = searchRates(context.Background(), 1000, 20000, 12, 100, func(ctx context.Context, rate float64) (RunSummary, error) {
		if n++; n == 3 {
			return RunSummary{}, boom
		}
		return (&fakeSystem{lossAt: 1e9}).step(ctx, rate)
	}, nil)
	if !errors.Is(err, boom) || len(o.Steps) != 2 {
		t.Errorf("error: %v, %d steps", err, len(o.Steps))
	}
}

func TestFigureOf(t *testing.T) {
	outs := []searchOutcome{
		{ZeroLoss: searchFigure{Delivered: 2000, Confirmed: true}},
		{ZeroLoss: searchFigure{Delivered: 1000, Confirmed: false}},
		{ZeroLoss: searchFigure{Delivered: 1800, Confirmed: true, AtMaxRate: true}},
	}
	f := figureOf(outs, func(o searchOutcome) searchFigure { return o.ZeroLoss })
	if f.Median != 1800 || f.Min != 1000 || f.Max != 2000 || f.Unconfirmed != 1 || f.AtMaxRate != 1 {
		t.Errorf("figureOf: %+v", f)
	}
	if got := figureText(&f); got != "1800 (1000-2000), 1 unconfirmed, 1 at --max-rate" {
		t.Errorf("figureText: %q", got)
	}
}

func TestRetryUnderSteal(t *testing.T) {
	runs := func(ss ...RunSummary) (func() (RunSummary, error), *int) {
		n := 0
		return func() (RunSummary, error) { s := ss[n]; n++; return s, nil }, &n
	}
	// A pass under steal counts at once.
	run, n := runs(RunSummary{Pass: true, PassP99: true, StealPct: 40})
	if s, _ := retryUnderSteal(run); *n != 1 || !s.Pass || s.StealRetries != 0 {
		t.Fatalf("a pass was retried or lost: %d runs, %+v", *n, s)
	}
	// A failure on a quiet machine counts at once.
	run, n = runs(RunSummary{Pass: false, StealPct: 1})
	if s, _ := retryUnderSteal(run); *n != 1 || s.Pass {
		t.Fatalf("a quiet failure was retried: %d runs, %+v", *n, s)
	}
	// A failure under steal is run again; a quiet rerun decides.
	run, n = runs(RunSummary{Pass: false, StealPct: 30}, RunSummary{Pass: true, PassP99: true, StealPct: 2})
	if s, _ := retryUnderSteal(run); *n != 2 || !s.Pass || s.StealPct != 2 || s.StealRetries != 1 {
		t.Fatalf("rerun under steal: %d runs, %+v", *n, s)
	}
	// Steal every time: stop after the retries, keep the least disturbed.
	run, n = runs(RunSummary{Rate: 1, StealPct: 30}, RunSummary{Rate: 2, StealPct: 20}, RunSummary{Rate: 3, StealPct: 25})
	if s, _ := retryUnderSteal(run); *n != 1+stealRetries || s.Rate != 2 || s.StealRetries != stealRetries {
		t.Fatalf("persistent steal: %d runs, %+v", *n, s)
	}
}
