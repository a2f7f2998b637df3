package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"branchline/api"
	"branchline/crm"
	"branchline/replication"
	"branchline/telephony/pbx"
	"branchline/views"
	"branchline/web"
)

// TestTelephonyHooks runs the switch's hooks on a real node store: the
// screen pop carries the caller's customer card to the agent's SSE topic,
// an unknown number pops with no customer, and the blacklist hook reads
// the CRM's policy.
func TestTelephonyHooks(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := OpenStore(StoreConfig{Dir: t.TempDir(), ID: "sh-pudong", Registry: views.Registry(), Log: log, Observer: Observer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := &Node{store: store, log: log, broker: web.NewBroker(), metrics: prometheus.NewRegistry()}
	ctx := context.Background()
	id := replication.NewIDs().New(time.Now())
	if _, err := store.Exec(ctx, "admin", func(v replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(v, id, map[string]string{"display_name": "上海申通", "phone": "13800138000", "level": "VIP"})
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Exec(ctx, "admin", func(v replication.Tx) ([]replication.Draft, error) {
		d, err := crm.BlacklistNumber(v, "13900000666", "nuisance", crm.PolicyReject, nil)
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}

	events, done := n.broker.Subscribe("user:zhang")
	defer done()
	n.screenPop("zhang", pbx.CallInfo{ID: "c1", Caller: "13800138000", DID: "4000", Queue: "sales"})
	n.screenPop("zhang", pbx.CallInfo{ID: "c2", Caller: "anonymous"})
	for i, want := range []struct {
		call, customer string
	}{{"c1", id}, {"c2", ""}} {
		select {
		case ev := <-events:
			var pop struct {
				Call      string `json:"call"`
				Customers []struct {
					ID, Name, Level string
				} `json:"customers"`
			}
			if ev.Name != "call.ring" || json.Unmarshal([]byte(ev.Data), &pop) != nil || pop.Call != want.call {
				t.Fatalf("pop %d = %+v", i, ev)
			}
			if want.customer == "" && len(pop.Customers) != 0 ||
				want.customer != "" && (len(pop.Customers) != 1 || pop.Customers[0].ID != want.customer || pop.Customers[0].Name != "上海申通") {
				t.Fatalf("pop %d customers = %+v", i, pop.Customers)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no screen pop %d", i)
		}
	}
	if reject, _ := n.blacklisted("13900000666"); !reject {
		t.Fatal("a listed number with the reject policy is not rejected")
	}
	if reject, warn := n.blacklisted("13800138000"); reject || warn {
		t.Fatal("a clean number is blacklisted")
	}
	if reject, warn := n.blacklisted("not a number"); reject || warn {
		t.Fatal("an unparsable number is blacklisted")
	}

	// With SIP: the switch listens, the service is wired to it, and it
	// closes cleanly.
	parts, err := n.startTelephony(TelephonyConfig{SIPAddr: "127.0.0.1:0", Location: time.UTC}, api.AdminGrants)
	if err != nil {
		t.Fatal(err)
	}
	if parts.sip == nil || parts.service.Switch == nil || !strings.HasPrefix(parts.sip.UDPAddr(), "127.0.0.1:") {
		t.Fatalf("parts = %+v", parts)
	}
	if err := parts.close(); err != nil {
		t.Fatal(err)
	}
	// Without SIP the service still serves configuration and records.
	parts, err = n.startTelephony(TelephonyConfig{}, api.AdminGrants)
	if err != nil || parts.sip != nil || parts.close() != nil {
		t.Fatalf("without SIP: %+v %v", parts, err)
	}
}
