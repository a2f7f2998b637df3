package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	wait "branchline/internal/poll"
)

// syncBuffer is a bytes.Buffer the demo writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs the quick start's first command as a user would: the demo
// prints the URLs of three hub members and two nodes, each of them is ready
// and serves its sign-in page, and Ctrl-C stops it cleanly.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and two nodes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, []string{"--data", t.TempDir(), "--port-base", "0", "--admin-password", "demo-test-pw"}, &stdout, &stderr)
	}()
	urls := regexp.MustCompile(`(?m)^  (hub\d|sh-pudong|bj-chaoyang) +(http://\S+)$`)
	var found [][]string
	wait.Until(t, 3*time.Minute, "the demo to print its URLs", func() error {
		select {
		case err := <-done:
			t.Fatalf("the demo stopped: %v\n%s\n%s", err, stdout.String(), stderr.String())
		default:
		}
		if found = urls.FindAllStringSubmatch(stdout.String(), -1); len(found) < 5 {
			return fmt.Errorf("%d URLs printed", len(found))
		}
		return nil
	})
	for _, u := range found {
		for _, path := range []string{"/readyz", "/login"} {
			resp, err := http.Get(u[2] + path)
			if err != nil {
				t.Fatalf("%s %s: %v", u[1], path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %s", u[1], path, resp.Status)
			}
		}
	}
	// A node's first calls may go to any member: none refuses its token
	// for not having applied the registration yet.
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "invalid or expired token") {
			t.Errorf("a hub member refused a node's token while the demo started: %s", line)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the demo stopped with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop within a minute of Ctrl-C")
	}
}
