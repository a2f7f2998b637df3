package telephony

import "time"

// KPIs are the figures of a set of calls (one day, one queue).
type KPIs struct {
	CallsIn    int // offered to a queue: answered, abandoned or released without an agent
	Answered   int
	Abandoned  int
	NoAgent    int
	Rejected   int // rejected or blacklisted at the door (not in CallsIn)
	Overflowed int // left the queue for its overflow queue (per-queue figures only)
	// Refused are new calls an overloaded switch refused (503) before
	// doing any work: counted per minute (RefusedCalls), not in CallsIn,
	// and for no queue, since they never reached one.
	Refused     int
	AbandonRate float64
	ASA         time.Duration // average speed of answer
	AHT         time.Duration // average handle time: talk plus wrap-up
	AvgTalk     time.Duration
	AvgWrapUp   time.Duration
	AvgAbandon  time.Duration // average time callers waited before hanging up
	// ServiceLevel is the share of calls in answered within SLThreshold.
	ServiceLevel float64
	SLThreshold  time.Duration
}

// ComputeKPIs computes the KPIs of inbound records; queue "" means all
// queues, else the figures of that queue, where calls that overflowed from
// it count as overflowed and not as its calls in. sl is the service-level
// threshold (DefaultServiceLevel when zero).
func ComputeKPIs(records []*Record, queue string, sl time.Duration) KPIs {
	if sl <= 0 {
		sl = DefaultServiceLevel
	}
	k := KPIs{SLThreshold: sl}
	var wait, talk, wrap, abandonWait time.Duration
	inSL := 0
	for _, r := range records {
		if r.Direction != Inbound {
			continue
		}
		d := r.Disposition
		if queue != "" {
			if r.Queue != queue && r.FirstQueue != queue {
				continue
			}
			d = r.DispositionIn(queue)
		}
		switch d {
		case Rejected, Blacklisted:
			k.Rejected++
			continue
		case Overflowed:
			k.Overflowed++
			continue
		}
		k.CallsIn++
		switch d {
		case Answered:
			k.Answered++
			w := r.Wait()
			wait += w
			talk += r.Talk()
			wrap += r.WrapUp
			if w <= sl {
				inSL++
			}
		case Abandoned:
			k.Abandoned++
			abandonWait += r.Wait()
		case NoAgent:
			k.NoAgent++
		}
	}
	avg := func(total time.Duration, n int) time.Duration {
		if n == 0 {
			return 0
		}
		return total / time.Duration(n)
	}
	if k.CallsIn > 0 {
		k.AbandonRate = float64(k.Abandoned) / float64(k.CallsIn)
		k.ServiceLevel = float64(inSL) / float64(k.CallsIn)
	}
	k.ASA = avg(wait, k.Answered)
	k.AvgTalk = avg(talk, k.Answered)
	k.AvgWrapUp = avg(wrap, k.Answered)
	k.AHT = avg(talk+wrap, k.Answered)
	k.AvgAbandon = avg(abandonWait, k.Abandoned)
	return k
}

// Day returns the bounds [start, end) of the local day of t in loc.
func Day(t time.Time, loc *time.Location) (time.Time, time.Time) {
	t = t.In(loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	return start, start.AddDate(0, 0, 1)
}
