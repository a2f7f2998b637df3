package web_test

import (
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	crmv1 "branchline/gen/branchline/crm/v1"
	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// TestStatementShowsCustomerCode: the monthly statement names the
// customer by name and customer code (客户编号), never by the internal id.
func TestStatementShowsCustomerCode(t *testing.T) {
	s := startPickupSite(t)
	s.setUp(t)
	c, err := s.cust.CreateCustomer(s.admin, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{
		DisplayName: "月结对账测试公司", Code: "KH-20261", Mobile: "13900139000", Address: "上海市浦东新区张江路 1 号"}, AllowDuplicate: true}))
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(c.Msg.GetName(), "customers/")
	if _, err := s.pickups.CreatePickup(s.admin, connect.NewRequest(&pickupv1.CreatePickupRequest{
		Sender:      &pickupv1.Party{Name: "陈先生", Phone: "139 1234 5678", Address: "上海市浦东新区张江路 88 号"},
		Destination: "北京", Goods: "文件", WeightGrams: 1000, Payment: "monthly", Customer: id,
	})); err != nil {
		t.Fatal(err)
	}
	agent := newAdminClient(t, s.base, agentUser, webPassword)
	code, body := agent.get("/accounts/" + id + "/statement")
	agent.expect("statement", code, http.StatusOK, body, "月结对账测试公司", "KH-20261")
	// The id may be in links (to the account page), never as text.
	if text := strings.ReplaceAll(body, `href="/accounts/`+id+`"`, ""); strings.Contains(text, id) {
		t.Fatalf("the statement shows the internal id %s", id)
	}
}
