package pbx

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"pgregory.net/rapid"

	"branchline/replication"
	"branchline/telephony"
)

// TestReadyIndexMatchesScan: whatever agents do (log in and out, go ready
// and not ready, ring, answer, wrap up, miss offers), whatever the
// configuration does (members added and removed) and whoever registers,
// the ACD's ready index gives each queue the candidates a scan of all its
// members gives, and counts the same logged-in members and ready agents.
// The index is checked after every step, so a step that leaves it wrong
// fails here even when a later rebuild would have hidden it.
func TestReadyIndexMatchesScan(t *testing.T) {
	loc := time.UTC
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, loc) // a Monday morning
	morning, _ := telephony.ParseWindow("1-5 08:00-12:00")
	evening, _ := telephony.ParseWindow("18:00-23:00")
	users := []string{"ann", "bob", "cat", "dan", "eve"}
	exts := []string{"8001", "8002", "8003", "8004", "8005"}
	queues := []string{"sales", "support", "vip"}

	rapid.Check(t, func(rt *rapid.T) {
		store := newMemStore(t)
		srv, err := Start(Config{UDPAddr: "127.0.0.1:0", Store: store, Location: loc, Now: func() time.Time { return now },
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			rt.Fatal(err)
		}
		defer srv.Close()
		exec := func(cmd replication.Command) error {
			_, err := store.Exec(t.Context(), "admin", cmd)
			return err
		}
		for _, q := range queues {
			if err := exec(func(v replication.Tx) ([]replication.Draft, error) {
				return one(telephony.SetQueue(v, telephony.Queue{Name: q, Strategy: telephony.LongestIdle}))
			}); err != nil {
				rt.Fatal(err)
			}
		}
		for _, e := range exts {
			if err := exec(func(v replication.Tx) ([]replication.Draft, error) {
				return one(telephony.SetExtension(v, telephony.Extension{Number: e}, "secret1"))
			}); err != nil {
				rt.Fatal(err)
			}
		}
		a := srv.acd
		user := rapid.SampledFrom(users)
		calls := 0
		callOf := func(u string) string {
			a.mu.Lock()
			defer a.mu.Unlock()
			if ag := a.agents[u]; ag != nil && ag.call != "" {
				return ag.call
			}
			return "none"
		}
		steps := map[string]func(*rapid.T){
			"login": func(t *rapid.T) {
				_, err := srv.Login(user.Draw(t, "user"), rapid.SampledFrom(exts).Draw(t, "ext"), rapid.Bool().Draw(t, "ready"))
				t.Logf("login: %v", err)
			},
			"logout": func(t *rapid.T) {
				if _, err := a.logout(user.Draw(t, "user")); err != nil {
					t.Fatal(err)
				}
			},
			"set state": func(t *rapid.T) {
				st := rapid.SampledFrom([]telephony.AgentState{telephony.Ready, telephony.NotReady}).Draw(t, "state")
				_, err := a.setState(user.Draw(t, "user"), st, "")
				t.Logf("set state: %v", err)
			},
			"ring": func(t *rapid.T) {
				calls++
				err := a.begin(user.Draw(t, "user"), fmt.Sprintf("c%d", calls))
				t.Logf("begin: %v", err)
			},
			"offer failed": func(t *rapid.T) {
				u := user.Draw(t, "user")
				a.offerFailed(u, callOf(u))
			},
			"offer missed": func(t *rapid.T) {
				u := user.Draw(t, "user")
				a.offerMissed(u, callOf(u), telephony.ReasonNoAnswer, telephony.ManualPause)
			},
			"connected": func(t *rapid.T) {
				u := user.Draw(t, "user")
				a.connected(u, callOf(u), rapid.Bool().Draw(t, "inbound"))
			},
			"ended": func(t *rapid.T) {
				u := user.Draw(t, "user")
				// Wrap-up long enough not to end by itself during the test:
				// set state ends it.
				wrap := rapid.SampledFrom([]time.Duration{0, time.Hour}).Draw(t, "wrap")
				a.ended(u, callOf(u), wrap)
			},
			"add member": func(t *rapid.T) {
				q, u := rapid.SampledFrom(queues).Draw(t, "queue"), user.Draw(t, "user")
				m := telephony.Member{User: u, Priority: rapid.IntRange(1, 3).Draw(t, "priority")}
				switch rapid.IntRange(0, 2).Draw(t, "windows") {
				case 1:
					m.Windows = []telephony.Window{morning}
				case 2:
					m.Windows = []telephony.Window{evening}
				}
				if err := exec(func(v replication.Tx) ([]replication.Draft, error) { return one(telephony.AddMember(v, q, m)) }); err != nil {
					t.Fatal(err)
				}
				srv.ConfigChanged()
			},
			"remove member": func(t *rapid.T) {
				q, u := rapid.SampledFrom(queues).Draw(t, "queue"), user.Draw(t, "user")
				err := exec(func(v replication.Tx) ([]replication.Draft, error) { return one(telephony.RemoveMember(v, q, u)) })
				t.Logf("remove member: %v", err)
				srv.ConfigChanged()
			},
			"register": func(t *rapid.T) {
				e := rapid.SampledFrom(exts).Draw(t, "ext")
				expires := now.Add(rapid.SampledFrom([]time.Duration{-time.Minute, time.Hour}).Draw(t, "expires in"))
				srv.reg.mu.Lock()
				srv.reg.byExt[e] = []*Binding{{Extension: e, URI: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 9}, Transport: "udp", Expires: expires}}
				srv.reg.mu.Unlock()
			},
			"": func(t *rapid.T) { checkReadyIndex(t, srv, now) },
		}
		rt.Repeat(steps)
	})
}

// checkReadyIndex compares the ACD's index with a scan of the members of
// every queue of the configuration in force.
func checkReadyIndex(t *rapid.T, srv *Server, now time.Time) {
	snap, err := srv.dir.get()
	if err != nil {
		t.Fatal(err)
	}
	a := srv.acd
	a.mu.Lock()
	defer a.mu.Unlock()
	// When the configuration changed this rebuilds the index; between
	// changes the steps alone keep it.
	idx := a.indexLocked(snap)
	nready := 0
	for _, ag := range a.agents {
		if ag.state == telephony.Ready {
			nready++
		}
	}
	if idx.nready != nready {
		t.Fatalf("index counts %d ready agents, there are %d", idx.nready, nready)
	}
	byUser := func(x, y telephony.Candidate) int { return cmp.Compare(x.User, y.User) }
	for name, q := range snap.queues {
		var want []telephony.Candidate
		loggedIn := 0
		for _, m := range q.Members {
			ag := a.agents[m.User]
			if ag == nil {
				continue
			}
			loggedIn++
			if ag.state != telephony.Ready {
				if _, in := idx.ready[name][m.User]; in {
					t.Fatalf("queue %s: %s is %s, the index has them ready", name, m.User, ag.state)
				}
				continue
			}
			if idx.ready[name][m.User] != ag {
				t.Fatalf("queue %s: %s is ready, the index does not have them", name, m.User)
			}
			if m.ActiveAt(now.In(srv.loc)) && srv.reg.registered(ag.ext) {
				want = append(want, telephony.Candidate{User: m.User, Priority: m.Priority, Answered: ag.answeredOn(a.day(now)), IdleSince: ag.idleSince})
			}
		}
		for u, ag := range idx.ready[name] {
			if !slices.ContainsFunc(q.Members, func(m telephony.Member) bool { return m.User == u }) || a.agents[u] != ag || ag.state != telephony.Ready {
				t.Fatalf("queue %s: the index has %s ready, who is not a ready member", name, u)
			}
		}
		if idx.loggedIn[name] != loggedIn {
			t.Fatalf("queue %s: the index counts %d logged in, there are %d", name, idx.loggedIn[name], loggedIn)
		}
		got := a.candidates(q, now)
		slices.SortFunc(got, byUser)
		slices.SortFunc(want, byUser)
		if !slices.EqualFunc(got, want, func(x, y telephony.Candidate) bool {
			return x.User == y.User && x.Priority == y.Priority && x.Answered == y.Answered && x.IdleSince.Equal(y.IdleSince)
		}) {
			t.Fatalf("queue %s: candidates %+v, a scan of the members gives %+v", name, got, want)
		}
	}
}
