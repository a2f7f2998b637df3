package app

import (
	"context"
	"time"

	"branchline/replication"
)

// Store is what use cases need of a replica's event store. A node
// implements it over Badger; a hub member over the commands it proposes to
// Raft; tests over memory.
type Store interface {
	// Exec runs a command for actor and durably records the events it
	// makes, applied to the views in the same transaction.
	Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error)
	// View reads the views in a consistent snapshot.
	View(fn func(views replication.Tx) error) error
}

// Read runs fn on a snapshot of store's views and returns what it read:
// the one way use cases answer from the views.
func Read[T any](store Store, fn func(views replication.Tx) (T, error)) (T, error) {
	var out T
	err := store.View(func(views replication.Tx) error {
		var err error
		out, err = fn(views)
		return err
	})
	return out, err
}

// One makes the drafts of a command that decides one event.
func One(d replication.Draft, err error) ([]replication.Draft, error) {
	if err != nil {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

// OneIf is One for commands that may decide that nothing changes (ok
// false): no draft then.
func OneIf(d replication.Draft, ok bool, err error) ([]replication.Draft, error) {
	if err != nil || !ok {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

// When is the wall-clock time of a stamp, zero for none: how results show
// when things happened.
func When(h replication.HLC) time.Time {
	if h == 0 {
		return time.Time{}
	}
	return h.Time()
}

// Read2 is Read for reads that also say whether they found anything.
func Read2[T any](store Store, fn func(views replication.Tx) (T, bool, error)) (T, bool, error) {
	var out T
	var ok bool
	err := store.View(func(views replication.Tx) error {
		var err error
		out, ok, err = fn(views)
		return err
	})
	return out, ok, err
}

// Clock is a use case's clock: nil is the system clock. Tests set one to
// decide times (tenure, expiry, days in the past).
type Clock func() time.Time

// Time is the clock's time now.
func (c Clock) Time() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}

// DefaultTimeZone is the business time zone of a node or hub that names
// none: the one its people read times in, whatever zone the computer is
// set to.
const DefaultTimeZone = "Asia/Shanghai"

// chinaTime stands in for Asia/Shanghai on a machine without zone data
// (China has kept UTC+8 without daylight saving since 1991).
var chinaTime = time.FixedZone("CST", 8*3600)

// Zone is the business time zone l, or DefaultTimeZone when l is nil:
// pages, exports, reports and the days of numbers all read times in it,
// so that a record shows the same time wherever it is shown. The
// computer's own zone (time.Local) is never used.
func Zone(l *time.Location) *time.Location {
	if l != nil {
		return l
	}
	if l, err := time.LoadLocation(DefaultTimeZone); err == nil {
		return l
	}
	return chinaTime
}
