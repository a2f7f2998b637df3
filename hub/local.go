package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// LocalConfig describes a cluster whose members all run in this process,
// as the demo and the benchmarks use.
type LocalConfig struct {
	Dir           string // each member's data goes to Dir/hub<N>
	Members       int
	AdminPassword string
	Log           *slog.Logger
	// Addrs returns member i's HTTP and Raft listen addresses (i from 0);
	// nil: 127.0.0.1 with ports chosen by the OS.
	Addrs func(i int) (httpAddr, raftAddr string)
	// Start starts a member: wiring.StartHub, which hands it the
	// product's kinds and pages.
	Start func(Config) (*Hub, error)
}

// StartLocal starts members as an operator would — the first bootstraps,
// the others join it — and returns once every member knows the leader and
// holds the cluster's state.
func StartLocal(ctx context.Context, cfg LocalConfig) ([]*Hub, error) {
	if cfg.Start == nil {
		return nil, errors.New("hub: LocalConfig.Start is required (wiring.StartHub)")
	}
	var hubs []*Hub
	fail := func(err error) ([]*Hub, error) {
		CloseAll(hubs)
		return nil, err
	}
	for i := range cfg.Members {
		id := fmt.Sprintf("hub%d", i+1)
		httpAddr, raftAddr := "127.0.0.1:0", "127.0.0.1:0"
		if cfg.Addrs != nil {
			httpAddr, raftAddr = cfg.Addrs(i)
		}
		c := Config{
			ID: id, DataDir: filepath.Join(cfg.Dir, id), HTTPAddr: httpAddr, RaftAddr: raftAddr,
			AdminPassword: cfg.AdminPassword, Log: cfg.Log, Bootstrap: i == 0,
		}
		if i > 0 {
			c.JoinURL = hubs[0].URL()
		}
		h, err := cfg.Start(c)
		if err != nil {
			return fail(fmt.Errorf("start hub member %s: %w", id, err))
		}
		hubs = append(hubs, h)
		if i == 0 {
			// Joiners log in to the first member: it must be initialised.
			if err := waitUntil(ctx, 30*time.Second, h.Ready); err != nil {
				return fail(fmt.Errorf("hub member %s did not become ready: %w", id, err))
			}
		}
	}
	settled := func() bool {
		for _, h := range hubs {
			if !h.Ready() || h.Head() != hubs[0].Head() {
				return false
			}
		}
		return true
	}
	if err := waitUntil(ctx, 60*time.Second, settled); err != nil {
		return fail(fmt.Errorf("hub members did not settle: %w", err))
	}
	return hubs, nil
}

// CloseAll stops members, followers first, so that the leader does not
// hand leadership around on the way out.
func CloseAll(hubs []*Hub) {
	var leader *Hub
	for i := len(hubs) - 1; i >= 0; i-- {
		if hubs[i].IsLeader() && leader == nil {
			leader = hubs[i]
			continue
		}
		hubs[i].Close()
	}
	if leader != nil {
		leader.Close()
	}
}

func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("timed out after %s", timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
