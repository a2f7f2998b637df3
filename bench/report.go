package bench

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a Run measured. Nil parts were not measured.
type Report struct {
	Config     Config `json:"-"`
	Started    time.Time
	Elapsed    time.Duration
	EventBytes int // one event, encoded as the hub stores it
	BodyBytes  int // its crm.customer.created body

	Push          *throughput
	LeaderChanges int // seen while the hub was pushed to or pulled from
	Reconnect     *reconnectResult
	CatchUpErr    string `json:",omitempty"` // why the reconnect or the fresh node did not make it
	Writes        *writes
	Etcd          *etcdResult
	EtcdSkipped   string `json:",omitempty"`
}

// etcdResult is the comparison with etcd.
type etcdResult struct {
	Version    string
	ValueBytes int
	PutRate    float64 // puts/s, one put per request
	PutLatency summary
	TxnRate    float64 // puts/s, Batch puts per transaction
	TxnLatency summary
	PutCPU     cpuUse // bench includes etcd's processes
	TxnCPU     cpuUse
}

// Met reports whether every target measured was met.
func (r *Report) Met() bool {
	for _, row := range r.rows() {
		if row.result == "missed" {
			return false
		}
	}
	return true
}

type row struct{ what, value, target, result string }

// cpuRow says how many CPUs the bench and everything else used.
func cpuRow(u cpuUse) row {
	return row{"  CPUs busy (of " + strconv.Itoa(runtime.NumCPU()) + ")", u.String(), "", ""}
}

// perEvent is the bench's CPU time per event, in microseconds: a figure
// that other processes on the machine disturb less than rates do.
func perEvent(u cpuUse, d time.Duration, events int) string {
	if events == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(u.Bench*d.Seconds()/float64(events)*1e6, 'f', 0, 64) + " µs"
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func (r *Report) rows() []row {
	c := r.Config
	var rows []row
	if p := r.Push; p != nil {
		rows = append(rows,
			row{fmt.Sprintf("hub commit throughput (%d members, %d nodes, %d events/push, %s)", c.HubMembers, p.Pushers, p.Batch, p.Window),
				perSec(p.Rate, "events"), "≥ " + perSec(TargetPushRate, "events"), verdict(p.Rate >= TargetPushRate)},
			row{"hub push latency p50 / p99 / max", ms(p.Latency.P50, p.Latency.P99, p.Latency.Max), "", ""},
			cpuRow(p.CPU),
			row{"  bench CPU per committed event (all members + pushers)", perEvent(p.CPU, p.Window, p.Events), "", ""},
		)
		if p.Retries > 0 {
			rows = append(rows, row{"hub pushes retried (last error: " + p.LastErr + ")", strconv.Itoa(p.Retries), "", ""})
		}
		if l := p.Pull; l != nil {
			rows = append(rows,
				row{fmt.Sprintf("live pulls (%d nodes; %.0f %% of events their branch's own): events delivered", p.Pushers, 100*l.BranchShare),
					perSec(l.Rate, "events"), "", ""},
				row{"  commit to arrival at a pulling node p50 / p99 / max", ms(l.Latency.P50, l.Latency.P99, l.Latency.Max),
					"p99 ≤ " + ms(TargetArrivalP99), verdict(l.Latency.N > 0 && l.Latency.P99 <= TargetArrivalP99)},
				row{"  streams at the head after the pushers stopped", secs(l.Drained), "", ""},
			)
		}
	}
	if r.LeaderChanges > 0 {
		rows = append(rows, row{"hub leader changes while measuring", strconv.Itoa(r.LeaderChanges), "0", ""})
	}
	if rc := r.Reconnect; rc != nil {
		scale := float64(rc.Events) / targetCatchUpEvents
		ackT := time.Duration(float64(TargetAckPer1M) * scale)
		projT := time.Duration(float64(TargetCatchUpPer1M) * scale)
		catchT := time.Duration(float64(TargetCatchUpPer1M) * float64(rc.CatchEvent) / targetCatchUpEvents)
		note := ""
		if rc.Events != targetCatchUpEvents {
			note = " (scaled from 1M)"
		}
		rows = append(rows,
			row{fmt.Sprintf("branch back after an outage: %s events queued (%s creates, %s edits)", num(float64(rc.Events)), num(float64(rc.Creates)), num(float64(rc.Edits))),
				secs(rc.Queued) + " to queue", "", ""},
			row{"  bench CPU per event queued (node)", perEvent(rc.QueueCPU, rc.Queued, rc.Events), "", ""},
			row{"  the node restarted with the hub's address (store open, type-ahead memory loaded)", secs(rc.Restart), "", ""},
			row{"  hub has acknowledged all (from the node up)", secs(rc.Acked), "≤ " + secs(ackT) + note, verdict(rc.Acked <= ackT)},
			row{"  hub has projected all (leader's views)", secs(rc.Projected), "≤ " + secs(projT) + note, verdict(rc.Projected <= projT)},
			row{"  every member's company views hold and index all", secs(rc.Company), "", ""},
			cpuRow(rc.HubCPU),
			row{fmt.Sprintf("  bench CPU per event, hub (%d members) + node", c.HubMembers), perEvent(rc.HubCPU, rc.Projected, rc.Events), "", ""},
			row{"  the same to the company views' end (all the work the events caused)", perEvent(rc.AllCPU, rc.Company, rc.Events), "", ""},
			row{fmt.Sprintf("fresh node catches up on %s events, search index included", num(float64(rc.CatchEvent))),
				secs(rc.CatchUp), "≤ " + secs(catchT), verdict(rc.CatchUp <= catchT)},
			row{"  of it, serving every event (type-ahead, screen pop; lists may follow)", secs(rc.Serving), "", ""},
			row{fmt.Sprintf("  screen pop while the lists build, p50 / p99 / max (%d, %d found nobody yet)", rc.PopBuilding.N, rc.PopMissed),
				ms(rc.PopBuilding.P50, rc.PopBuilding.P99, rc.PopBuilding.Max), "", ""},
			row{"  catch-up rate", perSec(rate(int(rc.CatchEvent), rc.CatchUp), "events"), "", ""},
			cpuRow(rc.CatchCPU),
			row{"  bench CPU per event caught up (hub serving + node)", perEvent(rc.CatchCPU, rc.CatchUp, int(rc.CatchEvent)), "", ""},
			row{"caught-up node's event digest = hub's", yesNo(rc.DigestSame), "yes", verdict(rc.DigestSame)},
		)
	}
	if r.CatchUpErr != "" {
		rows = append(rows, row{"catch-up of a fresh node: FAILED: " + r.CatchUpErr, "never", "≤ 60 s per 1M events", "missed"})
	}
	if w := r.Writes; w != nil {
		rows = append(rows,
			row{fmt.Sprintf("node durable write, 1 writer, p50 / p99 / max (%d)", w.Sequential.N),
				ms(w.Sequential.P50, w.Sequential.P99, w.Sequential.Max), "p99 ≤ 5 ms", verdict(w.Sequential.P99 <= TargetWriteP99)},
			row{fmt.Sprintf("node durable write, %d writers, p50 / p99 / max", w.Writers),
				ms(w.Concurrent.P50, w.Concurrent.P99, w.Concurrent.Max), "p99 ≤ 20 ms", verdict(w.Concurrent.P99 <= TargetWriteP99Many)},
			row{fmt.Sprintf("node durable writes, %d writers", w.Writers), perSec(w.Rate, "writes"), "", ""},
			row{"  events per transaction and fsync (group commit)", fmt.Sprintf("%.1f", w.PerFsync), "", ""},
			cpuRow(w.CPU),
		)
	}
	if e := r.Etcd; e != nil {
		rows = append(rows,
			row{fmt.Sprintf("etcd %s put, 1 per request (%d clients)", e.Version, c.Pushers), perSec(e.PutRate, "puts"), "", ""},
			row{"  latency p50 / p99", ms(e.PutLatency.P50, e.PutLatency.P99), "", ""},
			cpuRow(e.PutCPU),
			row{fmt.Sprintf("etcd txn, %d puts per txn (%d clients)", c.Batch, c.Pushers), perSec(e.TxnRate, "puts"), "", ""},
			row{"  latency p50 / p99", ms(e.TxnLatency.P50, e.TxnLatency.P99), "", ""},
			cpuRow(e.TxnCPU),
		)
		if p := r.Push; p != nil {
			rows = append(rows,
				row{"branchline events/s ÷ etcd single puts/s", ratio(p.Rate, e.PutRate), "", ""},
				row{"branchline events/s ÷ etcd txn puts/s", ratio(p.Rate, e.TxnRate), "", ""},
			)
		}
	} else if r.EtcdSkipped != "" {
		rows = append(rows, row{"etcd comparison", "skipped: " + r.EtcdSkipped, "", ""})
	}
	return rows
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nbranchline bench sync — %s, %s, %d CPUs, %s/%s\n", r.Started.Format("2006-01-02 15:04"), runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "events: crm.customer.created, %d bytes encoded (body %d bytes); everything on 127.0.0.1; run took %s\n\n",
		r.EventBytes, r.BodyBytes, r.Elapsed.Round(time.Second))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHAT\tVALUE\tTARGET\tRESULT")
	for _, row := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.what, row.value, row.target, row.result)
	}
	tw.Flush()
}

// num formats n with thousands separators.
func num(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

func perSec(n float64, unit string) string { return num(n) + " " + unit + "/s" }

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s" }

// ms formats durations in milliseconds, " / " between them.
func ms(ds ...time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		f := float64(d) / float64(time.Millisecond)
		prec := 2
		if f >= 10 {
			prec = 1
		}
		if f >= 100 {
			prec = 0
		}
		parts[i] = strconv.FormatFloat(f, 'f', prec, 64)
	}
	return strings.Join(parts, " / ") + " ms"
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "×"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
