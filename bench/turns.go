package main

import (
	"fmt"
	"slices"
	"time"
)

// minTurns is the fewest turns a comparison takes: with fewer, the median
// is one unlucky turn away and the range says little.
const minTurns = 5

// turns measures the loads one after another for d each, n times over, in
// reverse order every other turn so that none always runs first, and
// returns each load's turns. Ratios are taken turn by turn: the speed of a
// shared machine drifts over minutes, and loads measured back to back see
// the same machine.
func turns(n int, d time.Duration, loads ...load) []series {
	out := make([]series, len(loads))
	for t := range n {
		for j := range loads {
			i := j
			if t%2 == 1 {
				i = len(loads) - 1 - j
			}
			out[i] = append(out[i], closedLoop(loads[i].workers, d, loads[i].op))
		}
	}
	return out
}

// series is one load's turns, in the order they ran.
type series []result

func (s series) rates() []float64 {
	r := make([]float64, len(s))
	for i, t := range s {
		r[i] = t.rate()
	}
	return r
}

// pooled is every turn as one measurement: percentiles over all requests,
// failures and processor time summed.
func (s series) pooled() result {
	var all result
	for _, t := range s {
		all = all.add(t)
	}
	return all
}

// ratios is a's rate over b's, turn by turn.
func ratios(a, b series) []float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i].rate() / b[i].rate()
	}
	return r
}

// spread is the median of per-turn figures, which one odd turn cannot move,
// and their least and greatest, which show how far a turn strays.
type spread struct{ median, lo, hi float64 }

func spreadOf(xs []float64) spread {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n == 0 {
		return spread{}
	}
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{m, s[0], s[n-1]}
}

// overlaps tells whether some turn of one could have been a turn of the
// other: then a difference of medians is within the noise.
func (s spread) overlaps(o spread) bool { return s.lo <= o.hi && o.lo <= s.hi }

// percent renders ratios: "88 % (84–91)".
func (s spread) percent() string {
	return fmt.Sprintf("%.0f %% (%.0f–%.0f)", 100*s.median, 100*s.lo, 100*s.hi)
}

// perSecond renders rates: "43/s (41–45)".
func (s spread) perSecond() string {
	return fmt.Sprintf("%.0f/s (%.0f–%.0f)", s.median, s.lo, s.hi)
}
