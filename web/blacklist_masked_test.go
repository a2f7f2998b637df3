package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	crmv1 "branchline/gen/branchline/crm/v1"
)

// TestMaskedAgentSeesBlacklistWarning: an agent who may not see phone
// numbers still sees, on the customer card, that the customer's number is
// blacklisted — with the number masked, never whole.
func TestMaskedAgentSeesBlacklistWarning(t *testing.T) {
	cn := startCustomerNode(t)
	cn.addAgent(t, "mask.agent")
	a := cn.create(t, &crmv1.Customer{DisplayName: "黑名单提示测试公司", Mobile: "13600001234", Phone: "010 8888 6666", City: "北京"})
	if _, err := cn.blacklist.Blacklist(context.Background(), connect.NewRequest(&crmv1.BlacklistNumberRequest{
		Number: "010 8888 6666", Reason: "多次恶意骚扰", Policy: crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT,
	})); err != nil {
		t.Fatal(err)
	}
	c := signedIn(t, cn.base, "mask.agent", webPassword, "/customers")
	code, card := c.get("/customers/" + a)
	c.expect("card", code, http.StatusOK, card, `id="warnings"`, "在黑名单中：来电将被拒接")
	if strings.Contains(card, "8888 6666") || strings.Contains(card, "88886666") {
		t.Fatal("the masked agent's card shows the blacklisted number whole")
	}
}
