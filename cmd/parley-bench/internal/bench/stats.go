package bench

import (
	"math"
	"slices"
)

// Spread is a figure measured several times: the median and the range.
type Spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"` // in the order measured
}

// spreadOf summarises v; the median of an even count is the mean of the two
// middle values. An empty v gives the zero Spread.
func spreadOf(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1], Values: slices.Clone(v)}
}

// RelSpread is (max - min) / median, 0 when the median is 0.
func (s Spread) RelSpread() float64 {
	if s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / s.Median
}

// ratioOf is a / b, or 0 when either is 0 (nothing to compare).
func ratioOf(a, b float64) float64 {
	if a == 0 || b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return a / b
}
