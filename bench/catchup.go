package bench

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

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
