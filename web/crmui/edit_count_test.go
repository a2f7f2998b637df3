package crmui_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"testing"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/crm/crmapp"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/web"
	"branchline/web/crmui"
)

// countingStore is a node's real store whose transactions count the reads
// of one customer's record — Gets of its creation register, scans of its
// keys (the creation register's key prefixes the record's, so one scan
// reads both) — and the events written.
type countingStore struct {
	app.Store
	key, prefix []byte

	mu            sync.Mutex
	gets, scans   int
	events, execs int
}

func (s *countingStore) View(fn func(views replication.Tx) error) error {
	return s.Store.View(func(tx replication.Tx) error { return fn(countingTx{tx, s}) })
}

func (s *countingStore) Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
	evs, err := s.Store.Exec(ctx, actor, func(tx replication.Tx) ([]replication.Draft, error) { return cmd(countingTx{tx, s}) })
	s.mu.Lock()
	s.execs++
	s.events += len(evs)
	s.mu.Unlock()
	return evs, err
}

func (s *countingStore) reset() {
	s.mu.Lock()
	s.gets, s.scans, s.events, s.execs = 0, 0, 0, 0
	s.mu.Unlock()
}

// countingTx is a replication.Tx counting into its store.
type countingTx struct {
	replication.Tx
	s *countingStore
}

func (t countingTx) Get(key []byte) ([]byte, error) {
	if bytes.Equal(key, t.s.key) {
		t.s.mu.Lock()
		t.s.gets++
		t.s.mu.Unlock()
	}
	return t.Tx.Get(key)
}

func (t countingTx) Scan(prefix, start []byte, fn func(key, value []byte) (bool, error)) error {
	if bytes.Equal(prefix, t.s.prefix) || bytes.Equal(prefix, t.s.key) {
		t.s.mu.Lock()
		t.s.scans++
		t.s.mu.Unlock()
	}
	return t.Tx.Scan(prefix, start, fn)
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// TestCustomerEditReadsOnceWritesOnce saves a customer's edit form and
// checks that the whole request reads the customer once and runs one
// command, writing one event, the change with its audit entry: the use case decides
// the change on the record it read for the permission and scope checks,
// takes the values it replaces for the audit entry from that record, and
// reports the customer as the write leaves it without reading it back.
func TestCustomerEditReadsOnceWritesOnce(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := node.OpenStore(node.StoreConfig{Dir: t.TempDir(), ID: "br-web", Registry: kinds.Registry(), Log: log, Observer: node.Observer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ids := replication.NewIDs()
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}})
	admin, err := app.CallerOf(ctx, app.AdminGrants)
	if err != nil {
		t.Fatal(err)
	}
	cu, err := (&crmapp.Customers{Store: st, IDs: ids, Node: "br-web"}).Create(ctx, admin, crmapp.CustomerCreate{
		Fields: map[string]string{"display_name": "上海申通", "mobile": "13800138000", "city": "上海"}})
	if err != nil {
		t.Fatal(err)
	}

	counted := &countingStore{Store: st, key: replication.Key("crm", "cust", cu.ID), prefix: replication.Prefix("crm", "cust", cu.ID)}
	login := func(_ context.Context, user, pw string) (*auth.Principal, error) {
		if user == "admin" && pw == "admin-password" {
			return &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}}, nil
		}
		return nil, auth.ErrBadCredentials
	}
	ui, err := web.New(web.Config{Site: "br-web", Home: "/customers", Login: login, Sessions: web.NewMemorySessions(), Grants: app.AdminGrants,
		Log: log, Pages: []web.Pages{crmui.New(crmui.Config{Customers: &crmapp.Customers{Store: counted, IDs: ids, Node: "br-web"}})}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := func(path string) string {
		t.Helper()
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := csrfInput.FindSubmatch(b)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("%s: status %d, CSRF token found: %v", path, resp.StatusCode, m != nil)
		}
		return string(m[1])
	}
	resp, err := hc.PostForm(srv.URL+"/login", url.Values{"_csrf": {token("/login")}, "username": {"admin"}, "password": {"admin-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", resp.StatusCode)
	}

	csrf := token("/customers/" + cu.ID + "/edit")
	counted.reset()
	resp, err = hc.PostForm(srv.URL+"/customers/"+cu.ID, url.Values{"_csrf": {csrf},
		"display_name": {"上海申通快递"}, "mobile": {"138 0013 8000"}, "city": {"上海"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/customers/"+cu.ID {
		t.Fatalf("save: status %d, to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if counted.gets != 0 || counted.scans != 1 {
		t.Errorf("the edit read the customer's creation register %d times and scanned its record %d times, want one scan (the register with the record)", counted.gets, counted.scans)
	}
	if counted.execs != 1 || counted.events != 1 {
		t.Errorf("the edit ran %d commands writing %d events, want one command writing one event: the change with its audit entry", counted.execs, counted.events)
	}
	es, err := app.Read(st, func(views replication.Tx) ([]access.AuditEntry, error) {
		es, _, err := access.ListAudit(views, access.AuditQuery{Action: crmapp.ActionCustomerUpdate})
		return es, err
	})
	if want := []access.AuditChange{{Field: "display_name", Before: "上海申通", After: "上海申通快递"}}; err != nil || len(es) != 1 ||
		es[0].Target != "customers/"+cu.ID || !slices.Equal(es[0].Changes, want) {
		t.Errorf("audit of the edit: %+v, %v; want one entry of customers/%s with %+v", es, err, cu.ID, want)
	}

	// The one event changed the name and nothing else: the mobile typed
	// in another notation is the number stored.
	got, err := (&crmapp.Customers{Store: st, IDs: ids, Node: "br-web"}).Get(ctx, admin, cu.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("display_name") != "上海申通快递" || got.Get("mobile") != cu.Get("mobile") {
		t.Errorf("after the edit: %v", got.Fields)
	}
}
