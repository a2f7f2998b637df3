package node

import (
	"context"
	"maps"
	"slices"
	"time"

	"branchline/replication"
)

// taskEvery is how often a node runs its tasks (kinds.NodeTasks), such as
// giving back a stock share it holds beyond its target.
const taskEvery = 5 * time.Second

// TaskActor is the actor of the events a node's tasks make.
const TaskActor = "system"

// taskLoop runs the node's tasks periodically. A task is executed only
// when a dry run on the views makes events, so an idle node writes
// nothing; the command runs again inside the write, on the views as they
// are then, so a decision never rests on a stale read.
func (n *Node) taskLoop(ctx context.Context) {
	tasks := n.cfg.Tasks
	if len(tasks) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(tasks))
	wait := taskEvery
	first := map[string]bool{}
	for _, name := range names {
		first[name] = true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		start := time.Now()
		for _, name := range names {
			if err := n.runTask(ctx, tasks[name], first[name]); err != nil && ctx.Err() == nil {
				n.log.Warn("node task", "task", name, "err", err)
				continue
			}
			first[name] = false
		}
		wait = taskPause(time.Since(start), taskEvery)
	}
}

// maxFeed bounds the changes a task is given in one run.
const maxFeed = 1000

// taskPause is how long to wait after tasks that took took: every, or
// long enough that they use at most a tenth of the time. A warehouse
// node offering the stock of 100,000 products reads them all on each
// run; that must not take over a branch PC.
func taskPause(took, every time.Duration) time.Duration {
	return max(every, 9*took)
}

// runTask runs a task once. A task with a feed is given what changed since
// its last complete run (all, the first time); the feed's entries it was
// given are deleted once it has dealt with them all.
func (n *Node) runTask(ctx context.Context, task replication.NodeTask, first bool) error {
	var entries []replication.FeedEntry
	var changed []string
	if task.Feed != "" {
		var err error
		if entries, err = n.store.FeedEntries(task.Feed, maxFeed); err != nil {
			return err
		}
		if !first {
			if len(entries) == 0 {
				return nil
			}
			changed = make([]string, len(entries))
			for i, e := range entries {
				changed[i] = e.Entity
			}
		}
	}
	complete := false
	cmd := func(v replication.Tx) ([]replication.Draft, error) {
		d, all, err := task.Run(v, n.cfg.ID, changed)
		complete = all
		return d, err
	}
	var pending int
	if err := n.store.View(func(v replication.Tx) error {
		drafts, err := cmd(v)
		pending = len(drafts)
		return err
	}); err != nil {
		return err
	}
	if pending > 0 {
		if _, err := n.store.Exec(ctx, TaskActor, cmd); err != nil {
			return err
		}
	}
	if complete && len(entries) > 0 {
		return n.store.DeleteFeedEntries(ctx, entries)
	}
	return nil
}
