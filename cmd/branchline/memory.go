package main

import (
	"flag"
	"log/slog"
	"runtime/debug"
)

// defaultMemoryBudget is what a branch PC gives a node: 2.5 GiB resident
// (issue 17). A node with a million customers measured 322–482 MiB of Go
// heap and 1.2 GB resident (BENCHMARKS.md, 2026-12-07; 883 MiB of heap
// in an earlier release).
const defaultMemoryBudget = 2560 << 20

// nonHeapReserve is the part of the budget left for memory the Go limit
// does not count: the binary, threads' C stacks and the pages of Badger's
// memory-mapped tables and value log, which the kernel can reclaim.
const nonHeapReserve = 512 << 20

// memoryGOGC is the GC target the switch runs with inside the budget.
// Under overload a quarter to a third of the switch's CPU went to the GC
// at GOGC=100, CPU its read loop and call handling then waited for (issue
// 17); with a memory limit beside it, a larger target costs only headroom
// the budget has anyway.
const memoryGOGC = 300

// memoryFlag registers --memory-budget on fs.
func memoryFlag(fs *flag.FlagSet) *sizeFlag {
	b := &sizeFlag{n: defaultMemoryBudget}
	fs.Var(b, "memory-budget", "resident memory this process may use, e.g. 2560MiB: the Go GC runs with GOGC=300 and a memory limit of this less 512MiB (0: Go's defaults; GOGC and GOMEMLIMIT in the environment win)")
	return b
}

// applyMemoryBudget sets the GC for budget bytes of resident memory: a
// memory limit of budget less nonHeapReserve, so that the heap can never
// grow past the budget, and GOGC=memoryGOGC below it. What the operator
// set in the environment (GOGC, GOMEMLIMIT) is left alone, each on its
// own. It returns what it set (0: left alone).
//
// The bound: a node with a million customers (up to 883 MiB live, as
// measured in an earlier release) gets a heap goal of min(4×883 MiB,
// 2 GiB) = 2 GiB instead of GOGC=100's 1.77 GiB;
// should its live heap grow towards the limit, the GC runs more often
// (at most half the CPU, the runtime's cap) rather than the process
// growing past the budget.
func applyMemoryBudget(budget int64, getenv func(string) string, log *slog.Logger) (gogc int, limit int64) {
	if budget <= 0 {
		return 0, 0
	}
	if getenv("GOMEMLIMIT") == "" {
		limit = max(budget-nonHeapReserve, budget/2)
		debug.SetMemoryLimit(limit)
	}
	if getenv("GOGC") == "" {
		gogc = memoryGOGC
		debug.SetGCPercent(gogc)
	}
	if log != nil {
		log.Debug("memory budget", "budget", budget, "gogc", gogc, "limit", limit)
	}
	return gogc, limit
}
