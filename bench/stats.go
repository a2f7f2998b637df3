package bench

import (
	"slices"
	"time"
)

// latencies is a sample of operation times. It is not safe for concurrent
// use: each worker keeps its own and merges them at the end.
type latencies []time.Duration

func (l *latencies) add(d time.Duration) { *l = append(*l, d) }

func merge(ls ...latencies) latencies {
	var out latencies
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

// summary is the shape of a sample.
type summary struct {
	N             int
	P50, P99, Max time.Duration
	Mean          time.Duration
}

func (l latencies) summarize() summary {
	if len(l) == 0 {
		return summary{}
	}
	s := slices.Clone(l)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return summary{
		N:    len(s),
		P50:  quantile(s, 0.50),
		P99:  quantile(s, 0.99),
		Max:  s[len(s)-1],
		Mean: sum / time.Duration(len(s)),
	}
}

// quantile returns the nearest-rank q-quantile of a sorted sample.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// rate is n per elapsed second.
func rate(n int, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(n) / elapsed.Seconds()
}
