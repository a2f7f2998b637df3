package wiring

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"branchline/hub"
	"branchline/internal/poll"
)

// testMember is a hub member a test can stop and start again on the same
// addresses and data.
type testMember struct {
	t   *testing.T
	cfg hub.Config
	h   *hub.Hub
}

// startCluster starts a cluster of n members on loopback listeners: the
// first bootstraps it, the others join it; all are ready on return.
func startCluster(t *testing.T, n int) []*testMember {
	t.Helper()
	var ms []*testMember
	for i := range n {
		cfg := hub.Config{ID: fmt.Sprintf("hub%d", i+1), DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
			AdminPassword: testAdminPW, Log: quietLog}
		if i == 0 {
			cfg.Bootstrap = true
		} else {
			cfg.JoinURL = ms[0].h.URL()
		}
		m := &testMember{t: t, cfg: cfg}
		m.start()
		// Later starts use the addresses the listeners got.
		m.cfg.HTTPAddr, m.cfg.RaftAddr = strings.TrimPrefix(m.h.URL(), "http://"), m.h.RaftAddr()
		ms = append(ms, m)
		t.Cleanup(func() { m.h.Close() })
	}
	for _, m := range ms {
		poll.Until(t, 30*time.Second, m.cfg.ID+" to be ready", func() error {
			if !m.h.Ready() || m.h.Members() != n {
				return fmt.Errorf("ready %v, %d servers", m.h.Ready(), m.h.Members())
			}
			return nil
		})
	}
	return ms
}

func (m *testMember) start() {
	m.t.Helper()
	h, err := StartHub(m.cfg)
	if err != nil {
		m.t.Fatal(err)
	}
	m.h = h
}

// restart stops the member and starts it again on its data.
func (m *testMember) restart() {
	m.t.Helper()
	if err := m.h.Close(); err != nil {
		m.t.Fatal(err)
	}
	m.cfg.Bootstrap, m.cfg.JoinURL = false, ""
	m.start()
	poll.Until(m.t, 30*time.Second, m.cfg.ID+" to be ready again", func() error {
		if !m.h.Ready() {
			return fmt.Errorf("not ready")
		}
		return nil
	})
}

var tokenRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// hubPage gets path at base with the session cookie, not following
// redirects: its status, Location and body.
func hubPage(t *testing.T, base, session, path string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.AddCookie(&http.Cookie{Name: "bl_session", Value: session})
	return doNoRedirect(t, req)
}

func doNoRedirect(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// webLogin logs the cluster admin in to the pages of the member at base
// and returns the session cookie's value.
func webLogin(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := tokenRe.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("no token on the login page")
	}
	form := url.Values{"username": {hub.AdminUser}, "password": {testAdminPW}, "_csrf": {m[1]}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	lr, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lr.Body.Close()
	for _, c := range lr.Cookies() {
		if c.Name == "bl_session" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("login: status %d, no session cookie", lr.StatusCode)
	return ""
}

// TestWebSessionSurvivesRestartAndLeaderChange: head office logs in to the
// hub's pages at one member; the session is valid at every member, after
// that member restarts and after the leader changes; logging out at a
// follower ends it at every member.
func TestWebSessionSurvivesRestartAndLeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-member cluster")
	}
	ms := startCluster(t, 3)
	leader := func() *testMember {
		for _, m := range ms {
			if m.h.IsLeader() {
				return m
			}
		}
		return nil
	}
	var follower *testMember
	for _, m := range ms {
		if !m.h.IsLeader() {
			follower = m
			break
		}
	}
	session := webLogin(t, follower.h.URL())
	validEverywhere := func(when string) {
		t.Helper()
		for _, m := range ms {
			if code, loc, _ := hubPage(t, m.h.URL(), session, "/pickups"); code != http.StatusOK {
				t.Fatalf("%s: %s answers %d to %q, want the page", when, m.cfg.ID, code, loc)
			}
		}
	}
	validEverywhere("after logging in at " + follower.cfg.ID)

	follower.restart()
	validEverywhere("after " + follower.cfg.ID + " restarted")

	old := leader()
	if old == nil {
		t.Fatal("no leader")
	}
	old.restart()
	poll.Until(t, 30*time.Second, "a new leader", func() error {
		if l := leader(); l == nil || l == old {
			return fmt.Errorf("leader %v", l)
		}
		return nil
	})
	validEverywhere("after the leader changed from " + old.cfg.ID)

	// Logging out at a follower revokes the session at every member.
	for _, m := range ms {
		if !m.h.IsLeader() {
			follower = m
			break
		}
	}
	_, _, page := hubPage(t, follower.h.URL(), session, "/pickups")
	tok := tokenRe.FindStringSubmatch(page)
	if tok == nil {
		t.Fatal("no token on the page")
	}
	req, _ := http.NewRequest(http.MethodPost, follower.h.URL()+"/logout", strings.NewReader(url.Values{"_csrf": {tok[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "bl_session", Value: session})
	if code, loc, body := doNoRedirect(t, req); code != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout at %s: %d to %q: %s", follower.cfg.ID, code, loc, body)
	}
	for _, m := range ms {
		poll.Until(t, 10*time.Second, "the session to end at "+m.cfg.ID, func() error {
			if code, loc, _ := hubPage(t, m.h.URL(), session, "/pickups"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
				return fmt.Errorf("%d to %q", code, loc)
			}
			return nil
		})
	}
}
