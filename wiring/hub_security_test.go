package wiring

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/hub"
	"branchline/internal/poll"
	"branchline/rpc"
)

const testAdminPW = "hub-security-test-pw"

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startTestMember starts a one-member cluster on loopback listeners and
// waits until it is ready.
func startTestMember(t *testing.T) *hub.Hub {
	t.Helper()
	h, err := StartHub(hub.Config{ID: "hub1", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		Bootstrap: true, AdminPassword: testAdminPW, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	poll.Until(t, 20*time.Second, "the member to be ready", func() error {
		if !h.Ready() {
			return fmt.Errorf("not ready")
		}
		return nil
	})
	return h
}

// TestAdminLoginIsThrottled: the cluster admin's password is slowed down
// against guessing, as a node's users' are: failures of made-up names
// leave it working, failures of its own name lock it out for a while.
func TestAdminLoginIsThrottled(t *testing.T) {
	h := startTestMember(t)
	authc := authv1connect.NewAuthServiceClient(rpc.NewHTTPClient(), h.URL())
	login := func(user, pw string) error {
		_, err := authc.Login(context.Background(), connect.NewRequest(&authv1.LoginRequest{Username: user, Password: pw}))
		return err
	}
	for i := range 20 {
		if err := login(fmt.Sprintf("made.up%d", i), "not-a-password"); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("made-up user %d: %v", i, err)
		}
	}
	if err := login(hub.AdminUser, testAdminPW); err != nil {
		t.Fatalf("the admin after 20 failures of made-up names: %v", err)
	}
	for i := range 5 {
		if err := login(hub.AdminUser, "not-the-password"); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	if err := login(hub.AdminUser, testAdminPW); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("the right password after 5 failures: %v, want resource_exhausted", err)
	}
}
