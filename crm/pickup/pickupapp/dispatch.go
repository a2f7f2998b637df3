package pickupapp

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"branchline/app"
	"branchline/crm/pickup"
	"branchline/replication"
)

// Dispatcher sends couriers their dispatch messages (派件通知): for each
// pickup of this branch assigned to a courier and not yet notified, it
// records the message and the pickup's notified state in one transaction
// (pickup.NotifyCourier), then hands the message to the phone system,
// which delivers it now or when the courier's phone next registers. It
// runs after every pickup command and every few seconds, so an assignment
// made just before a crash, or pulled from the hub, is notified too —
// exactly once, since the notified state is recorded with the message.
type Dispatcher struct {
	Store app.Store
	IDs   *replication.IDs
	// Node is this branch: only its pickups are notified here.
	Node string
	// Queue is the phone system's pickup.Messenger for a message to be
	// recorded as msgID; Deliver sends the recorded message. Either nil:
	// the node runs without a phone system, and couriers see their page
	// only.
	Queue   func(msgID string) pickup.Messenger
	Deliver func(ctx context.Context, msgID string) error
	// Changed, when set, is told of the pickups a command or a pull
	// changed (pages' live updates).
	Changed func(ids ...string)
	Log     *slog.Logger

	mu sync.Mutex // one pass at a time
}

// System is the actor of the dispatch messages' events.
const System = "system"

// dispatchWindow bounds the periodic sweep to recent bookings.
const dispatchWindow = 7 * 24 * time.Hour

// OnChange is Pickups.OnChange, and what the node calls with pulled
// events: pages learn of the change at once, and new assignments are
// notified.
func (d *Dispatcher) OnChange(ctx context.Context, evs []*replication.Event) {
	var ids []string
	assigned := false
	for _, ev := range evs {
		id, ok := strings.CutPrefix(ev.Entity, "pickup/")
		if !ok {
			continue
		}
		ids = append(ids, id)
		assigned = assigned || ev.Kind == pickup.KindAssigned
	}
	if len(ids) == 0 {
		return
	}
	if d.Changed != nil {
		d.Changed(ids...)
	}
	if assigned {
		d.notify(context.WithoutCancel(ctx), ids)
	}
}

// Run sweeps every few seconds until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.sweep(ctx)
		}
	}
}

// sweep notifies what an earlier pass missed.
func (d *Dispatcher) sweep(ctx context.Context) {
	ids, _ := app.Read(d.Store, func(views replication.Tx) ([]string, error) {
		ps, _, err := pickup.List(views, pickup.Filter{Branch: d.Node, Status: pickup.StatusAssigned,
			From: time.Now().Add(-dispatchWindow), Limit: 200})
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
		}
		return ids, err
	})
	if len(ids) > 0 {
		d.notify(ctx, ids)
	}
}

// notify records and sends the dispatch message of each pickup that
// needs one.
func (d *Dispatcher) notify(ctx context.Context, ids []string) {
	if d.Queue == nil || d.Deliver == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A read first: most changes (and every pulled event of another
	// branch) need no notice, and a write per id would cost an fsync.
	todo, _ := app.Read(d.Store, func(views replication.Tx) ([]string, error) {
		var todo []string
		for _, id := range ids {
			if p, err := pickup.Get(views, id); err == nil && pickup.NeedsNotice(p, d.Node) {
				todo = append(todo, id)
			}
		}
		return todo, nil
	})
	for _, id := range todo {
		msgID := d.IDs.New(time.Now())
		var notified bool
		_, err := d.Store.Exec(ctx, System, func(views replication.Tx) ([]replication.Draft, error) {
			drafts, err := pickup.NotifyCourier(views, d.Node, id, msgID, d.Queue(msgID))
			notified = len(drafts) > 0
			return drafts, err
		})
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				d.Log.Error("dispatch message", "pickup", id, "err", err)
			}
			continue
		}
		if !notified {
			continue
		}
		if d.Changed != nil {
			d.Changed(id)
		}
		go func() {
			if err := d.Deliver(context.WithoutCancel(ctx), msgID); err != nil {
				d.Log.Error("deliver dispatch message", "pickup", id, "message", msgID, "err", err)
			}
		}()
	}
}
