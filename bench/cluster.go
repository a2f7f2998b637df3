package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"strings"
	"time"

	"connectrpc.com/connect"

	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/hub"
	"branchline/rpc"
	"branchline/wiring"
)

// cluster is a hub of one, three or five members running in this process, each member with
// its own data directory, HTTP listener and Raft transport on 127.0.0.1.
type cluster struct {
	pw   string
	hc   *http.Client
	hubs []*hub.Hub
}

// startCluster starts members hub members in dir as an operator would —
// the first bootstraps, the others join it, and all wait until they hold
// the cluster's initial state — each with a block cache of cache bytes
// (0: the hub's default) and Raft's timeout raftTimeout (0: the hub's).
func startCluster(ctx context.Context, dir string, members int, cache int64, raftTimeout time.Duration, log *slog.Logger) (*cluster, error) {
	b := make([]byte, 12)
	rand.Read(b)
	c := &cluster{pw: base64.RawURLEncoding.EncodeToString(b), hc: rpc.NewHTTPClient()}
	var err error
	// Each member's goroutines carry the profiler label member=its id:
	// go tool pprof -tagfocus member=hub-1.
	start := func(hc hub.Config) (h *hub.Hub, err error) {
		hc.CacheBytes, hc.RaftTimeout = cache, raftTimeout
		pprof.Do(ctx, pprof.Labels("member", hc.ID), func(context.Context) {
			h, err = wiring.StartHub(hc)
		})
		return h, err
	}
	c.hubs, err = hub.StartLocal(ctx, hub.LocalConfig{Dir: dir, Members: members, AdminPassword: c.pw, Log: log, Start: start})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// close stops the members, followers first so that the leader does not
// hand leadership around on the way out.
func (c *cluster) close() { hub.CloseAll(c.hubs) }

// head is the furthest log position a member has applied: what is
// committed.
func (c *cluster) head() uint64 {
	var h uint64
	for _, m := range c.hubs {
		h = max(h, m.Head())
	}
	return h
}

// leader returns the member that leads, or nil.
func (c *cluster) leader() *hub.Hub {
	for _, h := range c.hubs {
		if h.IsLeader() {
			return h
		}
	}
	return nil
}

// ready counts the members that know a leader and hold the cluster state.
func (c *cluster) ready() int {
	n := 0
	for _, h := range c.hubs {
		if h.Ready() {
			n++
		}
	}
	return n
}

// urls lists every member's URL, as a node is configured with them.
func (c *cluster) urls() []string {
	out := make([]string, len(c.hubs))
	for i, h := range c.hubs {
		out[i] = h.URL()
	}
	return out
}

// login logs in as the cluster admin at the first member, retrying while
// the cluster initialises.
func (c *cluster) login(ctx context.Context) (string, error) {
	var tok string
	var last error
	err := poll(ctx, 30*time.Second, func() bool {
		resp, err := authv1connect.NewAuthServiceClient(c.hc, c.hubs[0].URL()).
			Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: hub.AdminUser, Password: c.pw}))
		if err != nil {
			last = err
			return false
		}
		tok = resp.Msg.GetToken()
		return true
	})
	if err != nil {
		return "", fmt.Errorf("log in at %s: %w (%v)", c.hubs[0].URL(), err, last)
	}
	return tok, nil
}

// addNodes registers node ids as the admin does with "ctl nodes add" and
// returns their tokens.
func (c *cluster) addNodes(ctx context.Context, ids []string) (map[string]string, error) {
	tok, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	cs := adminv1connect.NewClusterServiceClient(c.hc, c.hubs[0].URL(), rpc.WithBearer(tok))
	out := map[string]string{}
	for _, id := range ids {
		resp, err := cs.AddNode(ctx, connect.NewRequest(&adminv1.AddNodeRequest{Id: id}))
		if err != nil {
			return nil, fmt.Errorf("register node %s: %w", id, err)
		}
		out[id] = resp.Msg.GetToken()
	}
	return out, nil
}

// waitApplied waits until every member has applied up to head.
func (c *cluster) waitApplied(ctx context.Context, head uint64, timeout time.Duration) error {
	return poll(ctx, timeout, func() bool {
		for _, h := range c.hubs {
			if h.Head() < head {
				return false
			}
		}
		return true
	})
}

// progress says, every period until ctx ends, how far each member has
// applied, projected and brought its company views, so that a long run
// shows where its time goes.
func (c *cluster) progress(ctx context.Context, period time.Duration, say func(string, ...any)) {
	start := time.Now()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var b strings.Builder
		for _, h := range c.hubs {
			fmt.Fprintf(&b, "  %s %d/%d/%d", h.ID(), h.Head(), h.Projected(), h.CompanyPosition())
		}
		say("  %3.0fs applied/projected/company:%s", time.Since(start).Seconds(), b.String())
	}
}

// waitCompany waits until every member's company views (what snapshots
// are made of) reflect head, their indexes built. Whether a member's
// indexes are built is a seek in its store, asked only once its views
// reflect head, and every 100 ms: polled every 10 ms when the seek began
// at the first marker, passing every one indexed and deleted, it took 2 %
// of a 200,000-event run's CPU from the members it measured (it begins
// at the company loop's last marker now).
func (c *cluster) waitCompany(ctx context.Context, head uint64, timeout time.Duration) error {
	return pollEvery(ctx, timeout, 100*time.Millisecond, func() bool {
		for _, h := range c.hubs {
			if h.CompanyPosition() < head {
				return false
			}
		}
		for _, h := range c.hubs {
			if ok, err := h.CompanyIndexed(); err != nil || !ok {
				return false
			}
		}
		return true
	})
}

// poll calls cond every 10 ms until it holds, timeout passes or ctx ends.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	return pollEvery(ctx, timeout, 10*time.Millisecond, cond)
}

// pollEvery is poll asking cond every period.
func pollEvery(ctx context.Context, timeout, period time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(period):
		}
	}
	return nil
}

// watchLeader counts leader changes, including spells without a leader,
// until ctx ends, sampling every 20 ms; the count arrives on the channel.
func (c *cluster) watchLeader(ctx context.Context) <-chan int {
	out := make(chan int, 1)
	go func() {
		changes := 0
		cur := c.leader()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- changes
				return
			case <-t.C:
			}
			if l := c.leader(); l != cur {
				if l != nil {
					changes++ // counts the new leader, not the gap before it
				}
				cur = l
			}
		}
	}()
	return out
}
