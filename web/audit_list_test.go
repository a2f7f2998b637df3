package web_test

import (
	"context"
	"fmt"
	"testing"

	"branchline/access"
	"branchline/replication"
)

// TestAuditListHTTP: the audit log's total under its filter, search,
// order and bad input — a clear message or the default list, never a
// failure.
func TestAuditListHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	n := startNode(t)
	for i := range 12 {
		actor, action := "zhao.clerk", "customer.export"
		if i%3 == 0 {
			actor, action = "qian.agent", access.ActionPasswordChanged
		}
		d := access.AuditDraft(action, "customers", fmt.Sprintf("导出第%02d批", i), access.WithActor(actor), access.WithSource("br-web", "10.0.0.9"))
		if _, err := n.Store().Exec(context.Background(), actor, func(replication.Tx) ([]replication.Draft, error) {
			return []replication.Draft{d}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	w := signIn(t, n.URL(), "admin") // its login is an entry too
	checkListPages(t, w, []listCase{
		{"an action", "/admin/audit?action=customer.export", 200, "共 8 条", []string{`id="audit-window"`, `aria-sort="descending"`}},
		{"an actor", "/admin/audit?actor=qian.agent", 200, "共 4 条", nil},
		{"a search of the detail", "/admin/audit?q=第07批", 200, "共 1 条", []string{"导出第07批"}},
		{"a search of the actor", "/admin/audit?q=QIAN", 200, "共 4 条", nil},
		{"sorted by action", "/admin/audit?sort=action&actor=zhao.clerk", 200, "共 8 条", []string{`aria-sort="ascending" class="sortable"><a href="/admin/audit?actor=zhao.clerk&amp;dir=desc&amp;sort=action"`}},
		{"a bad cursor: the first page", "/admin/audit?action=customer.export&before=AAAA", 200, "共 8 条", []string{"该页已不存在，显示第一页。"}},
		{"an unknown column: the default order", "/admin/audit?sort=secret&action=customer.export", 200, "共 8 条", nil},
		{"a start long ago: 92 days from it", "/admin/audit?from=2020-01-01", 200, "-", []string{"没有记录。"}},
		{"too many days", "/admin/audit?from=2020-01-01&to=2026-01-01", 422, "", []string{"一次最多查询 92 天。"}},
		{"the range reversed", "/admin/audit?from=2020-01-02&to=2020-01-01", 422, "", []string{"不能早于开始日期。"}},
		{"a bad date", "/admin/audit?to=tomorrow", 422, "", []string{"日期无效。"}},
	})

}
