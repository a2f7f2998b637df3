package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/replication"
	"branchline/rpc"
)

// pusher is one simulated node sending its own events to the hub as a
// branch in steady work does: one batch at a time, the next after the hub
// has acknowledged the last as durable. (A node with a long outbox keeps
// up to four batches in flight — node.pushWindow — which the reconnect
// phase measures with a real node.)
type pusher struct {
	src    *eventSource
	hc     *http.Client
	client replicationv1connect.ReplicationServiceClient
	// retries counts pushes the hub failed and the pusher sent again;
	// lastErr is the last such failure.
	retries int
	lastErr error
}

// newPusher connects node id to the hub member at url, over its own HTTP/2
// connection as a separate node would.
func newPusher(id, token, url string, bodies [][]byte) *pusher {
	hc := rpc.NewHTTPClient()
	return &pusher{
		src: newEventSource(id, bodies),
		hc:  hc,
		client: replicationv1connect.NewReplicationServiceClient(hc, url, rpc.WithBearer(token), rpc.ZstdClient(),
			connect.WithSendMaxBytes(replication.MaxBatchBytes+(1<<20)),
			connect.WithReadMaxBytes(replication.MaxBatchBytes+(1<<20))),
	}
}

func (p *pusher) close() { p.hc.CloseIdleConnections() }

// pushRecord is one acknowledged Push.
type pushRecord struct {
	start, end time.Time
	events     int
}

// maxRetries bounds how often one batch is sent again before the run
// gives up: the hub should never need more than a leader election.
const maxRetries = 100

// push sends the next batch of n events, again until the hub has it.
func (p *pusher) push(ctx context.Context, n int) (pushRecord, error) {
	evs := p.src.next(n)
	last := p.src.seq
	req := connect.NewRequest(&replicationv1.PushRequest{Events: evs, LastSeq: last})
	for try := 0; ; try++ {
		start := time.Now()
		resp, err := p.client.Push(ctx, req)
		if err == nil {
			if got := resp.Msg.GetDurableSeq(); got != last {
				return pushRecord{}, fmt.Errorf("%s: hub acknowledged seq %d, want %d", p.src.origin, got, last)
			}
			return pushRecord{start: start, end: time.Now(), events: n}, nil
		}
		if ctx.Err() != nil {
			return pushRecord{}, ctx.Err()
		}
		if try == maxRetries {
			return pushRecord{}, fmt.Errorf("%s: push of seq %d..%d: %w", p.src.origin, last-uint64(n)+1, last, err)
		}
		p.retries++
		p.lastErr = err
		select {
		case <-ctx.Done():
			return pushRecord{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runPushers runs every pusher concurrently, each pushing batches of
// batch events while more(pusher) holds, and returns what each had
// acknowledged.
func runPushers(ctx context.Context, ps []*pusher, batch int, more func(*pusher) bool) ([][]pushRecord, error) {
	recs := make([][]pushRecord, len(ps))
	errs := make([]error, len(ps))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for more(p) {
				r, err := p.push(ctx, batch)
				if err != nil {
					errs[i] = err
					cancel() // one failing node stops the run
					return
				}
				recs[i] = append(recs[i], r)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && ctx.Err() == nil {
			return recs, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return recs, err
		}
	}
	return recs, nil
}

// throughput is the result of pushing for a fixed time.
type throughput struct {
	Events   int           // events acknowledged in the window
	Window   time.Duration // the measured time, after the warm-up
	Rate     float64       // events per second
	Latency  summary       // of the pushes acknowledged in the window
	Retries  int
	LastErr  string `json:",omitempty"` // of a retried push
	Pushers  int
	Batch    int
	Total    int // events pushed including the warm-up
	Duration time.Duration
	CPU      cpuUse // during the measured window
	// Pull, when every pusher also pulled live: what arrived.
	Pull *livePulls `json:",omitempty"`
}

// livePulls is what the pushers' live Pulls received of the events
// committed during the measured window.
type livePulls struct {
	BranchShare float64 // of the events pushed, the share that were branch records
	Delivered   int     // events received, over every stream
	Rate        float64 // Delivered per second of the window
	Latency     summary // commit (the head passing the event) to arrival
	Drained     time.Duration
}

// measurePush pushes from every pusher for warmup+window and counts the
// events acknowledged during window. With head (the furthest log position
// a member applied), every pusher also keeps a live Pull open, and the
// result says how soon the events committed in the window arrived at the
// others.
func measurePush(ctx context.Context, ps []*pusher, batch int, warmup, window time.Duration, head func() uint64) (throughput, error) {
	start := time.Now()
	t0, t1 := start.Add(warmup), start.Add(warmup+window)
	var pulls *pulling
	if head != nil {
		pulls = startPulls(ctx, ps, head, t0, t1)
	}
	cpu := make(chan cpuUse, 1) // over the window
	go func() {
		time.Sleep(time.Until(t0))
		m := markCPU()
		time.Sleep(time.Until(t1))
		cpu <- m.use()
	}()
	recs, err := runPushers(ctx, ps, batch, func(*pusher) bool { return time.Now().Before(t1) })
	if err != nil {
		if pulls != nil {
			_, _ = pulls.stop(0)
		}
		return throughput{}, err
	}
	res := throughput{Window: window, Pushers: len(ps), Batch: batch, Duration: time.Since(start), CPU: <-cpu}
	if pulls != nil {
		if res.Pull, err = pulls.stop(head()); err != nil {
			return res, err
		}
		res.Pull.Rate = rate(res.Pull.Delivered, window)
		if len(ps) > 0 {
			res.Pull.BranchShare = ps[0].src.branchShare
		}
	}
	var lat latencies
	for _, rs := range recs {
		for _, r := range rs {
			res.Total += r.events
			if r.end.Before(t0) || r.end.After(t1) {
				continue
			}
			res.Events += r.events
			lat.add(r.end.Sub(r.start))
		}
	}
	for _, p := range ps {
		res.Retries += p.retries
		if p.lastErr != nil {
			res.LastErr = p.lastErr.Error()
		}
	}
	res.Rate = rate(res.Events, window)
	res.Latency = lat.summarize()
	return res, nil
}

// load pushes until the pushers have made at least total events between
// them, and returns how many they pushed, how long it took and the CPU use.
// Every 15 s it tells progress how far it got.
func load(ctx context.Context, ps []*pusher, batch, total int, progress func(pushed int)) (int, time.Duration, cpuUse, error) {
	have := 0
	for _, p := range ps {
		have += int(p.src.seq)
	}
	if have >= total {
		return 0, 0, cpuUse{}, nil
	}
	share := uint64((total - have + len(ps) - 1) / len(ps))
	quota := map[*pusher]uint64{}
	for _, p := range ps {
		quota[p] = p.src.seq + share
	}
	start, m := time.Now(), markCPU()
	var pushed atomic.Int64
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				progress(int(pushed.Load()))
			}
		}
	}()
	recs, err := runPushers(ctx, ps, batch, func(p *pusher) bool {
		if p.src.seq >= quota[p] {
			return false
		}
		pushed.Add(int64(batch)) // sent, not yet acknowledged
		return true
	})
	close(done)
	cpu := m.use()
	n := 0
	for _, rs := range recs {
		for _, r := range rs {
			n += r.events
		}
	}
	return n, time.Since(start), cpu, err
}

// livePull keeps p's node's Pull open from position cursor, as a node in
// steady work does, until ctx ends: the hub sends it the events of its
// scopes (company-wide ones and its branch's) that other nodes push. It
// returns when each event arrived, by position.
// pos is set to each position the hub says the stream reached.
func (p *pusher) livePull(ctx context.Context, cursor uint64, pos *atomic.Uint64) ([]arrival, error) {
	stream, err := p.client.Pull(ctx, connect.NewRequest(&replicationv1.PullRequest{
		Cursor: cursor, ExcludeOwn: true, Protocol: replication.Protocol,
	}))
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	var got []arrival
	for stream.Receive() {
		now := time.Now()
		for _, c := range stream.Msg().GetEvents() {
			got = append(got, arrival{pos: c.GetPosition(), at: now})
		}
		if at := stream.Msg().GetPosition(); at > 0 {
			pos.Store(at)
		}
	}
	if err := stream.Err(); err != nil && ctx.Err() == nil {
		return got, fmt.Errorf("%s: pull: %w", p.src.origin, err)
	}
	return got, nil
}

// arrival is when the event at a log position arrived at a node.
type arrival struct {
	pos uint64
	at  time.Time
}

// commits records when the hub's head passed each position: the time from
// an event's commit to its arrival at a node is taken from it.
type commits struct {
	mu    sync.Mutex
	heads []uint64
	times []time.Time
}

// watch samples head every half millisecond until ctx ends.
func (c *commits) watch(ctx context.Context, head func() uint64) {
	tick := time.NewTicker(500 * time.Microsecond)
	defer tick.Stop()
	for {
		if h := head(); len(c.heads) == 0 || h > c.heads[len(c.heads)-1] {
			c.mu.Lock()
			c.heads, c.times = append(c.heads, h), append(c.times, time.Now())
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// at is when the head first reached pos (zero if it was not seen to).
func (c *commits) at(pos uint64) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, _ := slices.BinarySearch(c.heads, pos)
	if i == len(c.heads) {
		return time.Time{}
	}
	return c.times[i]
}

// pulling is the pushers' live Pulls under way.
type pulling struct {
	cancel  context.CancelFunc
	pos     []atomic.Uint64
	done    chan pullResult
	commits *commits
	t0, t1  time.Time
}

type pullResult struct {
	got []arrival
	err error
}

// startPulls opens every pusher's live Pull from the head; what is
// committed between t0 and t1 is measured.
func startPulls(ctx context.Context, ps []*pusher, head func() uint64, t0, t1 time.Time) *pulling {
	ctx, cancel := context.WithCancel(ctx)
	cursor := head()
	pl := &pulling{cancel: cancel, pos: make([]atomic.Uint64, len(ps)), done: make(chan pullResult, len(ps)+1),
		commits: &commits{}, t0: t0, t1: t1}
	go func() {
		pl.commits.watch(ctx, head)
		pl.done <- pullResult{}
	}()
	for i, p := range ps {
		go func() {
			got, err := p.livePull(ctx, cursor, &pl.pos[i])
			pl.done <- pullResult{got, err}
		}()
	}
	return pl
}

// pullDrain bounds the wait for the streams to reach the head once the
// pushers stop.
const pullDrain = time.Minute

// stop waits until every stream has reached head (at most pullDrain; 0:
// not at all), ends them and sums what they received.
func (pl *pulling) stop(head uint64) (*livePulls, error) {
	start := time.Now()
	for head > 0 && time.Since(start) < pullDrain {
		behind := false
		for i := range pl.pos {
			if pl.pos[i].Load() < head {
				behind = true
				break
			}
		}
		if !behind {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res := &livePulls{Drained: time.Since(start)}
	pl.cancel()
	var got [][]arrival
	var errs []error
	for range len(pl.pos) + 1 { // the pulls and the head's watcher
		r := <-pl.done
		got = append(got, r.got)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	var lat latencies
	for _, g := range got {
		for _, a := range g {
			if c := pl.commits.at(a.pos); !c.Before(pl.t0) && !c.After(pl.t1) {
				res.Delivered++
				lat.add(max(0, a.at.Sub(c)))
			}
		}
	}
	res.Latency = lat.summarize()
	return res, errors.Join(errs...)
}
