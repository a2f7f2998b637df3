package access

import (
	"slices"
	"testing"

	"branchline/internal/keyset"
)

func TestSortedUsers(t *testing.T) {
	r := newReplica(t)
	dept := r.addDepartment(t, "浦东分部", "")
	r.addUser(t, "wang", map[string]string{FieldDisplayName: "王芳", FieldDepartment: dept})
	r.addUser(t, "li", map[string]string{FieldDisplayName: "李强", FieldPhone: "13812345678"})
	r.addUser(t, "zhao", map[string]string{FieldDisplayName: "赵敏", FieldDepartment: dept})
	views := r.read()
	tests := []struct {
		name string
		q    UserList
		want []string
	}{
		{"by user name", UserList{}, []string{"li", "wang", "zhao"}},
		{"by user name, descending", UserList{Order: keyset.Order{Desc: true}}, []string{"zhao", "wang", "li"}},
		{"by name in pinyin", UserList{Order: keyset.Order{Sort: UserSortName}}, []string{"li", "wang", "zhao"}},
		{"search phone", UserList{Text: "1234"}, []string{"li"}},
		{"search name", UserList{Text: "王"}, []string{"wang"}},
		{"department", UserList{Departments: []string{dept}}, []string{"wang", "zhao"}},
		{"a page of two, last", UserList{Limit: 2, Order: keyset.Order{Last: true}}, []string{"wang", "zhao"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Limit == 0 {
				tc.q.Limit = 50
			}
			page, err := SortedUsers(views, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range page.Users {
				got = append(got, u.Username)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if tc.q.Limit == 50 && page.Total != len(tc.want) {
				t.Errorf("total %d, want %d", page.Total, len(tc.want))
			}
		})
	}
	if _, err := SortedUsers(views, UserList{Order: keyset.Order{Cursor: "not-a-cursor!"}}); err == nil {
		t.Error("a made-up cursor is accepted")
	}
}
