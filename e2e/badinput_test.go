package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"branchline/crm"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/replication"
	"branchline/rpc"
)

var ids = replication.NewIDs()

// customerEvent is a valid customer-created event of origin.
func customerEvent(origin string, seq uint64) *replicationv1.Event {
	body, _ := proto.Marshal(&crmv1.CustomerCreated{Fields: []*eventv1.FieldValue{{Field: "display_name", Value: fmt.Sprintf("推送 %d", seq)}}})
	return &replicationv1.Event{
		Origin: origin, Seq: seq, Hlc: uint64(replication.MakeHLC(time.Now().UnixMilli(), 0)),
		Kind: crm.KindCustomerCreated, Entity: crm.Entity(ids.New(time.Now())), Actor: "e2e", Body: body,
	}
}

func push(url, token string, evs ...*replicationv1.Event) (uint64, error) {
	return pushProto(url, token, 0, evs...)
}

// pushProto pushes as a node speaking the given protocol version.
func pushProto(url, token string, protocol uint32, evs ...*replicationv1.Event) (uint64, error) {
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, rpc.WithBearer(token))
	}
	opts = append(opts, connect.WithSendMaxBytes(64<<20))
	resp, err := replicationv1connect.NewReplicationServiceClient(hc, url, opts...).
		Push(context.Background(), connect.NewRequest(&replicationv1.PushRequest{Events: evs, Protocol: protocol}))
	if err != nil {
		return 0, err
	}
	return resp.Msg.GetDurableSeq(), nil
}

func run(evs ...*replicationv1.Event) []*replicationv1.Event { return evs }

// TestBadInput: every malformed, unauthenticated or unauthorised call gets
// a clear error, and nothing of it is committed.
func TestBadInput(t *testing.T) {
	hubs := startCluster(t, 1)
	hub := hubs[0]
	tokA, _ := addNode(t, "br-a", hubs...), addNode(t, "br-b", hubs...)
	adminTok := mustLogin(t, hub.url)

	mutate := func(f func(e *replicationv1.Event)) *replicationv1.Event {
		e := customerEvent("br-a", 1)
		f(e)
		return e
	}
	big := make([]*replicationv1.Event, replication.MaxBatchEvents+1)
	for i := range big {
		big[i] = customerEvent("br-a", uint64(i+1))
	}
	huge := make([]*replicationv1.Event, (replication.MaxBatchBytes+(2<<20))/replication.MaxBody)
	for i := range huge {
		huge[i] = customerEvent("br-a", uint64(i+1))
		huge[i].Body = make([]byte, replication.MaxBody)
	}
	stamped := func(at time.Time) *replicationv1.Event {
		return mutate(func(e *replicationv1.Event) { e.Hlc = uint64(replication.MakeHLC(at.UnixMilli(), 0)) })
	}
	cases := []struct {
		name     string
		token    string
		evs      []*replicationv1.Event
		code     connect.Code
		msg      string
		protocol uint32
	}{
		{"no token", "", run(customerEvent("br-a", 1)), connect.CodeUnauthenticated, "Bearer", 0},
		{"unknown node token", "bln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", run(customerEvent("br-a", 1)), connect.CodeUnauthenticated, "invalid", 0},
		{"forged user token", "bl1.eyJ1IjoiYWRtaW4ifQ.AAAA", run(customerEvent("br-a", 1)), connect.CodeUnauthenticated, "invalid", 0},
		{"admin is not a node", adminTok, run(customerEvent("br-a", 1)), connect.CodePermissionDenied, "node", 0},
		{"node A pushes origin B", tokA, run(customerEvent("br-b", 1)), connect.CodePermissionDenied, `origin "br-b"`, 0},
		{"origin B hidden after A's", tokA, run(customerEvent("br-a", 1), customerEvent("br-b", 1)), connect.CodePermissionDenied, "own events", 0},
		{"seq zero", tokA, run(mutate(func(e *replicationv1.Event) { e.Seq = 0 })), connect.CodeInvalidArgument, "seq", 0},
		{"no hlc", tokA, run(mutate(func(e *replicationv1.Event) { e.Hlc = 0 })), connect.CodeInvalidArgument, "hlc", 0},
		// (An unknown kind is a newer release's: it is accepted and parked,
		// see TestRollingUpgrade.)
		{"empty kind", tokA, run(mutate(func(e *replicationv1.Event) { e.Kind = "" })), connect.CodeInvalidArgument, "kind", 0},
		{"stamped in the year 9999", tokA, run(mutate(func(e *replicationv1.Event) { e.Hlc = uint64(replication.MaxHLC) })), connect.CodeFailedPrecondition, "node br-a: event 1 is stamped 9999-12-31", 0},
		{"stamped a day ahead", tokA, run(stamped(time.Now().Add(24 * time.Hour))), connect.CodeFailedPrecondition, "more than the max clock offset", 0},
		{"a good event before one stamped ahead", tokA, run(customerEvent("br-a", 1), mutate(func(e *replicationv1.Event) {
			e.Seq, e.Hlc = 2, uint64(replication.MakeHLC(time.Now().Add(time.Hour).UnixMilli(), 0))
		})), connect.CodeFailedPrecondition, "nothing of the batch was committed", 0},
		{"a newer protocol", tokA, run(customerEvent("br-a", 1)), connect.CodeFailedPrecondition, "upgrade the hub", replication.Protocol + 1},
		{"garbage body", tokA, run(mutate(func(e *replicationv1.Event) { e.Body = []byte{0xff, 0xff, 0xff} })), connect.CodeInvalidArgument, "event 0", 0},
		{"body without name", tokA, run(mutate(func(e *replicationv1.Event) { e.Body = nil })), connect.CodeInvalidArgument, "event 0", 0},
		{"bad entity", tokA, run(mutate(func(e *replicationv1.Event) { e.Entity = "customer/not-an-id" })), connect.CodeInvalidArgument, "event 0", 0},
		{"not contiguous", tokA, run(customerEvent("br-a", 1), customerEvent("br-a", 3)), connect.CodeInvalidArgument, "does not follow", 0},
		{"too many events", tokA, big, connect.CodeInvalidArgument, "exceeds", 0},
		{"too many bytes", tokA, huge, connect.CodeResourceExhausted, "", 0},
		{"gap", tokA, run(customerEvent("br-a", 5)), connect.CodeFailedPrecondition, "resend from 1", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pushProto(hub.url, tc.token, tc.protocol, tc.evs...)
			if connect.CodeOf(err) != tc.code || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Fatalf("got %v; want code %v mentioning %q", err, tc.code, tc.msg)
			}
		})
	}
	if head := status(t, hub.url).GetAppliedPosition(); head != 0 {
		t.Fatalf("refused pushes committed %d events", head)
	}
	for _, n := range clusterStatus(t, hubs...).GetNodes() {
		if n.GetDurableSeq() != 0 {
			t.Fatalf("node %s has durable seq %d after refused pushes", n.GetId(), n.GetDurableSeq())
		}
	}
	// The same node may push its own valid events: the refusals above were
	// about the input, not a broken hub.
	if seq, err := push(hub.url, tokA, customerEvent("br-a", 1), customerEvent("br-a", 2)); err != nil || seq != 2 {
		t.Fatalf("valid push: durable %d, %v", seq, err)
	}
	if seq, err := push(hub.url, tokA, customerEvent("br-a", 2)); err == nil || seq != 0 {
		// A different event under a committed seq means the node's store
		// was replaced: refused, so its new events are never dropped.
		t.Fatalf("conflicting re-push of seq 2 accepted (durable %d)", seq)
	}

	t.Run("pull needs a node token", func(t *testing.T) {
		stream, err := replicationv1connect.NewReplicationServiceClient(hc, hub.url, rpc.WithBearer("bln_nope")).
			Pull(context.Background(), connect.NewRequest(&replicationv1.PullRequest{}))
		if err == nil {
			stream.Receive()
			err = stream.Err()
		}
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("pull with unknown token: %v", err)
		}
	})
	t.Run("bad login", func(t *testing.T) {
		for _, tc := range []struct{ user, pw string }{{"admin", "wrong-password"}, {"nobody", adminPassword}, {"", ""}} {
			_, err := authv1connect.NewAuthServiceClient(hc, hub.url).Login(context.Background(),
				connect.NewRequest(&authv1.LoginRequest{Username: tc.user, Password: tc.pw}))
			if c := connect.CodeOf(err); c != connect.CodeUnauthenticated && c != connect.CodeInvalidArgument {
				t.Errorf("login %q/%q: %v", tc.user, tc.pw, err)
			}
		}
	})
	t.Run("cluster admin only", func(t *testing.T) {
		_, err := adminv1connect.NewClusterServiceClient(hc, hub.url, rpc.WithBearer(tokA)).
			AddNode(context.Background(), connect.NewRequest(&adminv1.AddNodeRequest{Id: "br-evil"}))
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("a node registering nodes: %v", err)
		}
		_, err = adminv1connect.NewClusterServiceClient(hc, hub.url, rpc.WithBearer(adminTok)).
			AddNode(context.Background(), connect.NewRequest(&adminv1.AddNodeRequest{Id: "Bad Id!"}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("bad node id: %v", err)
		}
		_, err = adminv1connect.NewClusterServiceClient(hc, hub.url, rpc.WithBearer(adminTok)).
			AddNode(context.Background(), connect.NewRequest(&adminv1.AddNodeRequest{Id: "br-a"}))
		if connect.CodeOf(err) != connect.CodeAlreadyExists {
			t.Fatalf("registering br-a twice: %v", err)
		}
	})
	t.Run("removed node is refused", func(t *testing.T) {
		_, err := adminv1connect.NewClusterServiceClient(hc, hub.url, rpc.WithBearer(adminTok)).
			RemoveNode(context.Background(), connect.NewRequest(&adminv1.RemoveNodeRequest{Id: "br-a"}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := push(hub.url, tokA, customerEvent("br-a", 3)); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("push with a removed node's token: %v", err)
		}
	})
	t.Run("ops endpoints", func(t *testing.T) {
		if code, body := get(t, hub.url+"/readyz", ""); code != http.StatusOK {
			t.Errorf("/readyz: %d %s", code, body)
		}
		code, body := get(t, hub.url+"/metrics", "")
		if code != http.StatusOK || !strings.Contains(body, `branchline_raft_state{state="Leader"} 1`) || !strings.Contains(body, "branchline_events_applied_total 2") {
			t.Errorf("/metrics: %d, missing raft state or applied count", code)
		}
	})
}

// TestNodeAPIBadInput: the node's API refuses unauthenticated and invalid
// calls and changes nothing.
func TestNodeAPIBadInput(t *testing.T) {
	hubs := startCluster(t, 1)
	n := startNode(t, "br-api", hubURLs(hubs), addNode(t, "br-api", hubs...))
	tok := mustLogin(t, n.url)
	c := customers(n.url, tok)
	ok := &crmv1.Customer{DisplayName: "正常客户", Mobile: "13912345678"}

	cases := []struct {
		name   string
		client interface {
			CreateCustomer(context.Context, *connect.Request[crmv1.CreateCustomerRequest]) (*connect.Response[crmv1.Customer], error)
		}
		cust *crmv1.Customer
		code connect.Code
	}{
		{"no token", customers(n.url, ""), ok, connect.CodeUnauthenticated},
		{"hub token", customers(n.url, mustLogin(t, hubs[0].url)), ok, connect.CodeUnauthenticated},
		{"no name", c, &crmv1.Customer{Mobile: "13912345678"}, connect.CodeInvalidArgument},
		{"bad phone", c, &crmv1.Customer{DisplayName: "坏号码", Mobile: "12"}, connect.CodeInvalidArgument},
		{"bad email", c, &crmv1.Customer{DisplayName: "坏邮箱", Email: "not-an-email"}, connect.CodeInvalidArgument},
		{"oversized name", c, &crmv1.Customer{DisplayName: strings.Repeat("长", 201)}, connect.CodeInvalidArgument},
		{"bad credit limit", c, &crmv1.Customer{DisplayName: "额度", CreditLimit: "lots"}, connect.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.CreateCustomer(context.Background(), connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: tc.cust}))
			if connect.CodeOf(err) != tc.code {
				t.Fatalf("got %v, want %v", err, tc.code)
			}
		})
	}
	if got := countCustomers(t, c); got != 0 {
		t.Fatalf("refused calls created %d customers", got)
	}
	if _, err := c.CreateCustomer(context.Background(), connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: ok})); err != nil {
		t.Fatalf("valid create: %v", err)
	}
	resp, err := http.Post(n.url+"/branchline.crm.v1.CustomerService/ListCustomers", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("JSON call without token: HTTP %d, want 401", resp.StatusCode)
	}
	code, body := get(t, n.url+"/metrics", "")
	for _, m := range []string{"branchline_outbox_pending", "branchline_replication_lag_seconds", "branchline_events_applied_total", "branchline_commit_seconds_bucket"} {
		if code != http.StatusOK || !strings.Contains(body, m) {
			t.Errorf("/metrics: %d, missing %s", code, m)
		}
	}
}
