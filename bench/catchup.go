package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"branchline/node"
)

// catchUp is the result of a fresh node pulling the whole hub log.
type catchUp struct {
	Events     uint64        // hub head the node had to reach
	Elapsed    time.Duration // from node.Start to cursor == head
	Rate       float64       // events per second
	DigestSame bool          // the node's views equal the hub's
	CPU        cpuUse
}

// measureCatchUp starts a new node registered as id, with every hub member
// as its hub, and times how long it takes to apply the whole global log.
func measureCatchUp(ctx context.Context, c *cluster, id, token, dir string, timeout time.Duration, log *slog.Logger) (catchUp, error) {
	l := c.leader()
	if l == nil {
		return catchUp{}, errors.New("the hub has no leader")
	}
	head := l.Head()
	if err := c.waitApplied(ctx, head, 2*time.Minute); err != nil {
		return catchUp{}, fmt.Errorf("hub members did not apply up to %d: %w", head, err)
	}
	warn := newLastWarning(log.Handler())
	start, m := time.Now(), markCPU()
	n, err := node.Start(node.Config{
		ID: id, DataDir: dir, HTTPAddr: "127.0.0.1:0", HubURLs: c.urls(), Token: token,
		AdminPassword: c.pw, Log: slog.New(warn),
	})
	if err != nil {
		return catchUp{}, err
	}
	defer n.Close()
	// A node that applies nothing for a minute is stuck, not slow.
	last, moved := uint64(0), time.Now()
	err = poll(ctx, timeout, func() bool {
		cur := n.Store().Progress().Cursor
		if cur != last {
			last, moved = cur, time.Now()
		}
		return cur >= head || time.Since(moved) > stallAfter
	})
	elapsed, cpu := time.Since(start), m.use()
	if cur := n.Store().Progress().Cursor; err == nil && cur < head {
		err = fmt.Errorf("no progress for %s (the node's last warning: %s)", stallAfter, warn.last())
	}
	if err != nil {
		return catchUp{}, fmt.Errorf("node reached %d of %d events in %s: %w", n.Store().Progress().Cursor, head, elapsed.Round(time.Second), err)
	}
	return catchUp{
		Events:     head,
		Elapsed:    elapsed,
		Rate:       rate(int(head), elapsed),
		DigestSame: n.Store().Views().Digest() == l.Digest(),
		CPU:        cpu,
	}, nil
}

// stallAfter is how long a catching-up node may apply nothing before the
// bench gives up on it.
const stallAfter = time.Minute

// lastWarning passes records on and keeps the last warning or error, so
// that a stuck node can say why. Handlers derived from it share its record.
type lastWarning struct {
	slog.Handler
	st *warnState
}

type warnState struct {
	mu  sync.Mutex
	msg string
}

func newLastWarning(h slog.Handler) *lastWarning { return &lastWarning{Handler: h, st: &warnState{}} }

func (h *lastWarning) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.Handler.Enabled(ctx, l)
}

func (h *lastWarning) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		h.st.mu.Lock()
		h.st.msg = b.String()
		h.st.mu.Unlock()
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *lastWarning) WithAttrs(as []slog.Attr) slog.Handler {
	return &lastWarning{Handler: h.Handler.WithAttrs(as), st: h.st}
}

func (h *lastWarning) WithGroup(name string) slog.Handler {
	return &lastWarning{Handler: h.Handler.WithGroup(name), st: h.st}
}

func (h *lastWarning) last() string {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if h.st.msg == "" {
		return "none"
	}
	return h.st.msg
}
