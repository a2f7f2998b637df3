package node

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"branchline/crm/pickup"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
)

// dispatcher sends couriers their dispatch messages (派件通知): for each
// pickup of this branch assigned to a courier and not yet notified, it
// records the SIP MESSAGE and the pickup's notified state in one
// transaction, then hands the message to the switch, which delivers it
// now or when the courier's phone next registers. It runs after every
// pickup command and every few seconds, so an assignment made just before
// a crash, or pulled from the hub, is notified too — exactly once, since
// the notified state is recorded with the message.
type dispatcher struct {
	n   *Node
	sip *pbx.Server // nil: the node runs without SIP; couriers see their page only
	ids *replication.IDs

	mu      sync.Mutex // one pass at a time
	changed func(ids ...string)
}

// dispatchWindow bounds the periodic scan to recent bookings.
const dispatchWindow = 7 * 24 * time.Hour

// onChange is PickupService.OnChange: couriers' and agents' pages learn of
// the change at once (SSE), and new assignments are notified.
func (d *dispatcher) onChange(ctx context.Context, evs []*replication.Event) {
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
	if d.changed != nil {
		d.changed(ids...)
	}
	if assigned {
		d.notify(context.WithoutCancel(ctx), ids)
	}
}

// run sweeps every few seconds until ctx ends.
func (d *dispatcher) run(ctx context.Context) {
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
func (d *dispatcher) sweep(ctx context.Context) {
	var ids []string
	_ = d.n.store.View(func(views replication.Tx) error {
		ps, _, err := pickup.List(views, pickup.Filter{Branch: d.n.cfg.ID, Status: pickup.StatusAssigned,
			From: time.Now().Add(-dispatchWindow), Limit: 200})
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		return err
	})
	if len(ids) > 0 {
		d.notify(ctx, ids)
	}
}

// notify records and sends the dispatch message of each pickup that
// needs one.
func (d *dispatcher) notify(ctx context.Context, ids []string) {
	if d.sip == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A read first: most changes (and every pulled event of another
	// branch) need no notice, and a write per id would cost an fsync.
	var todo []string
	_ = d.n.store.View(func(views replication.Tx) error {
		for _, id := range ids {
			if p, err := pickup.Get(views, id); err == nil && pickup.NeedsNotice(p, d.n.cfg.ID) {
				todo = append(todo, id)
			}
		}
		return nil
	})
	for _, id := range todo {
		msgID := d.ids.New(time.Now())
		var notified bool
		_, err := d.n.store.Exec(ctx, TaskActor, func(views replication.Tx) ([]replication.Draft, error) {
			drafts, err := pickup.NotifyCourier(views, d.n.cfg.ID, id, msgID, queueMessage(msgID))
			notified = len(drafts) > 0
			return drafts, err
		})
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				d.n.log.Error("dispatch message", "pickup", id, "err", err)
			}
			continue
		}
		if !notified {
			continue
		}
		if d.changed != nil {
			d.changed(id)
		}
		go func() {
			if err := d.sip.Deliver(context.WithoutCancel(ctx), msgID); err != nil {
				d.n.log.Error("deliver dispatch message", "pickup", id, "message", msgID, "err", err)
			}
		}()
	}
}

// queueMessage is the phone system's pickup.Messenger: the message is
// queued as msgID to an extension that is configured, for the switch to
// deliver.
func queueMessage(msgID string) pickup.Messenger {
	return func(views replication.Tx, extension, text string) (replication.Draft, bool, error) {
		if _, ok, err := telephony.GetExtension(views, extension); err != nil || !ok {
			return replication.Draft{}, false, err
		}
		msg, err := telephony.QueueMessage(views, msgID, extension, text)
		return msg, err == nil, err
	}
}
