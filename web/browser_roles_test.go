package web_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	"branchline/access"
	accessv1 "branchline/gen/branchline/access/v1"
)

// defaultRole gives a new user (password webPassword) the default role
// key, after creating the default roles as a fresh node does.
func (s *pickupSite) defaultRole(t *testing.T, username, display, key string) {
	t.Helper()
	if _, err := s.access.App.SeedRoles(context.Background(), "admin", access.DefaultRoles()); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, r := range access.DefaultRoles() {
		if r.Key == key {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatalf("no default role %q", key)
	}
	u, err := s.access.CreateUser(s.admin, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{Username: username, DisplayName: display}, Password: webPassword}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.access.AssignRole(s.admin, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.Msg.GetName(), Role: "roles/" + id})); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserDefaultAgentRole: a user given the default agent role and
// nothing else sees customers' numbers masked — on the customer card and
// on the pickup form — and still books a pickup for an existing customer,
// which carries the customer's number. In zh-CN on a desktop and in
// English on a phone.
func TestBrowserDefaultAgentRole(t *testing.T) {
	s := startPickupSite(t)
	cust := s.setUp(t)
	const user = "zhou.agent"
	s.defaultRole(t, user, "周坐席", "agent")
	for _, tc := range []struct {
		name          string
		width, height int
		english       bool
	}{
		{"zh-CN desktop", 1366, 900, false},
		{"en phone", 390, 844, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := browser(t, tc.width, tc.height)
			loginAs(t, ctx, s.base, user, "/customers/"+cust, `#customer`)
			if tc.english {
				run(t, ctx, "English",
					clickJS(`button[data-lang=en]`),
					chromedp.WaitReady(css(`html[lang=en]`)),
					chromedp.Navigate(s.base+"/customers/"+cust),
					chromedp.WaitVisible(css(`#customer`)),
				)
			}
			var card string
			run(t, ctx, "the customer card",
				into(&card, chromedp.Evaluate[string](`document.querySelector('main').innerText`)),
				shot(t, "default-agent-card-"+strings.ReplaceAll(tc.name, " ", "-")),
			)
			if !strings.Contains(card, "****") || strings.Contains(card, "0013") {
				t.Fatalf("the agent's customer card shows the number unmasked (or not at all): %.600s", card)
			}

			var value, shown, status, id string
			run(t, ctx, "book for the customer",
				chromedp.Navigate(s.base+"/pickups/new?customer="+cust),
				chromedp.WaitVisible(css(`#pickup-form`)),
				into(&value, chromedp.Value(css(`input[name=sender_phone]`))),
				into(&shown, chromedp.Text(css(`#sender-phone-masked`))),
				chromedp.SendKeys(css(`input[name=receiver_name]`), "刘女士"),
				chromedp.SendKeys(css(`input[name=receiver_address]`), "北京市朝阳区建国路 1 号"),
				chromedp.SendKeys(css(`input[name=destination]`), "北京市朝阳区"),
				chromedp.SendKeys(css(`input[name=goods]`), "合同文件"),
				chromedp.SendKeys(css(`input[name=weight_kg]`), "1"),
				clickJS(`#book`),
				chromedp.WaitVisible(css(`#pickup`)),
				into(&status, chromedp.Text(css(`#pickup-status`))),
				into(&id, chromedp.Evaluate[string](`location.pathname.split('/').pop()`)),
				shot(t, "default-agent-booked-"+strings.ReplaceAll(tc.name, " ", "-")),
			)
			if value != "" || !strings.Contains(shown, "****") || strings.Contains(shown, "0013") {
				t.Fatalf("the sender's number on the form: value %q, shown %q; want it masked", value, shown)
			}
			if status == "" {
				t.Fatal("no status on the booked pickup's page")
			}
			if got := s.get(t, id).GetSender().GetPhone(); got != "+8613800138000" {
				t.Fatalf("the pickup's sender phone is %q, want the customer's +8613800138000", got)
			}
		})
	}
}
