package wiring

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
	"branchline/web"
)

// TestSIPAuthFailureAudited: a REGISTER with a wrong password at a node's
// switch is refused, lands in the node's audit log (with the phone's
// address) and is counted in the node's metrics.
func TestSIPAuthFailureAudited(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nd := openNode(t, "sh-pudong", log)
	store, reg := nd.Store(), nd.Metrics()
	if _, err := store.Exec(t.Context(), "admin", func(v replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.SetExtension(v, telephony.Extension{Number: "8001", User: "zhang"}, "secret1")
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}
	parts, err := startTelephony(nd, TelephonyConfig{SIPAddr: "127.0.0.1:0"}, app.AccessGrants(store, nil), web.NewBroker())
	if err != nil {
		t.Fatal(err)
	}
	defer parts.close()

	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", parts.sip.UDPAddr())
	// A nonce the node did not issue, with a response that cannot be
	// right: a wrong password whatever the nonce.
	req := "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + ";branch=z9hG4bKx1\r\n" +
		"From: <sip:8001@127.0.0.1>;tag=a\r\nTo: <sip:8001@127.0.0.1>\r\nCall-ID: audit-1\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:8001@" + c.LocalAddr().String() + ">\r\nExpires: 60\r\n" +
		`Authorization: Digest username="8001", realm="branchline", nonce="1.2.3", uri="sip:127.0.0.1", response="00000000000000000000000000000000", algorithm=MD5` +
		"\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.WriteTo([]byte(req), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	nr, _, err := c.ReadFrom(buf)
	if err != nil || !strings.HasPrefix(string(buf[:nr]), "SIP/2.0 403") {
		t.Fatalf("answer = %q, %v; want 403", buf[:nr], err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		var es []access.AuditEntry
		if err := store.View(func(v replication.Tx) error {
			var err error
			es, _, err = access.ListAudit(v, access.AuditQuery{Action: pbx.AuditAuthFailed})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(es) == 1 {
			e := es[0]
			if e.Actor != "8001" || e.Remote != c.LocalAddr().String() || e.Node != "sh-pudong" || !strings.Contains(e.Detail, "wrong credentials") {
				t.Fatalf("audit entry = %+v", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit entries of refused SIP authentication: %+v", es)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "branchline_sip_auth_failures_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "wrong" && m.GetCounter().GetValue() == 1 {
					return
				}
			}
		}
	}
	t.Fatal("branchline_sip_auth_failures_total{result=\"wrong\"} is not 1 in the node's metrics")
}

// openNode opens a node that does not serve: its store, metrics and log,
// for the switch's wiring.
func openNode(t *testing.T, id string, log *slog.Logger) *node.Node {
	t.Helper()
	nd, err := node.Open(node.Config{ID: id, DataDir: t.TempDir(), AdminPassword: "node-admin-pw", Registry: kinds.Registry(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	return nd
}
