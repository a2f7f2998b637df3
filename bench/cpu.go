package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The machine may be shared: other processes' CPU use changes what the
// bench measures. Each phase records how busy the machine was and how much
// of that was the bench (this process, and etcd's processes during the
// etcd phase), read from /proc. Where /proc is missing the figures are 0.

// clockTicks is USER_HZ, the unit of /proc's CPU times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuMark is a reading of the CPU time spent so far.
type cpuMark struct {
	at   time.Time
	busy float64 // seconds, all CPUs, whole machine, not idle
	self float64 // seconds, this process and pids
}

func markCPU(pids ...int) cpuMark {
	m := cpuMark{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, s := range f[1:] {
			v, _ := strconv.ParseFloat(s, 64)
			// user nice system idle iowait irq softirq steal guest guest_nice:
			// idle and iowait are not busy; guest time is inside user.
			if i != 3 && i != 4 && i < 8 {
				m.busy += v / clockTicks
			}
		}
	}
	m.self = procCPU("self")
	for _, p := range pids {
		m.self += procCPU(strconv.Itoa(p))
	}
	return m
}

// procCPU returns the user+system seconds of /proc/<pid>.
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from its closing parenthesis.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks
}

// cpuUse is the average number of CPUs in use over a phase.
type cpuUse struct {
	Machine float64 // busy CPUs, every process
	Bench   float64 // of which the bench's (and etcd's)
}

func (m cpuMark) use(pids ...int) cpuUse {
	now := markCPU(pids...)
	secs := now.at.Sub(m.at).Seconds()
	if secs <= 0 {
		return cpuUse{}
	}
	return cpuUse{Machine: (now.busy - m.busy) / secs, Bench: (now.self - m.self) / secs}
}

func (u cpuUse) String() string {
	return fmt.Sprintf("bench %.1f, others %.1f", u.Bench, max(0, u.Machine-u.Bench))
}
