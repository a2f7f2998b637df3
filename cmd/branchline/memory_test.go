package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestApplyMemoryBudget: the budget sets GOGC and a memory limit below it,
// and leaves alone whatever the operator set in the environment.
func TestApplyMemoryBudget(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevGC); debug.SetMemoryLimit(prevLimit) })
	tests := []struct {
		name      string
		budget    int64
		env       map[string]string
		wantGOGC  int
		wantLimit int64
	}{
		{"default budget", defaultMemoryBudget, nil, memoryGOGC, 2 << 30},
		{"GOGC set", defaultMemoryBudget, map[string]string{"GOGC": "100"}, 100, 2 << 30},
		{"GOMEMLIMIT set", defaultMemoryBudget, map[string]string{"GOMEMLIMIT": "1GiB"}, memoryGOGC, math.MaxInt64},
		{"both set", defaultMemoryBudget, map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}, 100, math.MaxInt64},
		{"no budget", 0, nil, 100, math.MaxInt64},
		{"small budget", 600 << 20, nil, memoryGOGC, 300 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			applyMemoryBudget(tt.budget, func(k string) string { return tt.env[k] }, nil)
			if got := debug.SetGCPercent(100); got != tt.wantGOGC {
				t.Errorf("GOGC %d, want %d", got, tt.wantGOGC)
			}
			if got := debug.SetMemoryLimit(-1); got != tt.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tt.wantLimit)
			}
		})
	}
}
