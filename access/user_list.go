package access

import (
	"math"
	"slices"
	"strings"

	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
)

// Sortable columns of the user list.
const (
	UserSortUsername = "username"
	UserSortName     = "name"
	UserSortCreated  = "created"
)

// UserColumns lists the columns the user list sorts by, the default (the
// user name) first.
var UserColumns = []string{UserSortUsername, UserSortName, UserSortCreated}

// UserList asks for a page of the user list: the users whose user name,
// display name, phone or extension contain Text, of Departments when set,
// the disabled ones only with Disabled, in the order of Sort (Desc:
// reversed), a page at a time (see keyset.Request).
type UserList struct {
	Text        string
	Departments []string
	Disabled    bool
	keyset.Order
	Limit int
}

// UserPage is a page of the user list with the number of users it holds.
type UserPage struct {
	Users      []*User
	Total      int
	Prev, Next string
}

// SortedUsers reads a page of the user list (an unknown column sorts by
// the user name). A company has hundreds or thousands of users: the list
// reads them all, keeps those that match, counts and orders them in
// memory.
func SortedUsers(views replication.Tx, q UserList) (UserPage, error) {
	all, err := ListUsers(views, "", math.MaxInt)
	if err != nil {
		return UserPage{}, err
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	all = slices.DeleteFunc(all, func(u *User) bool {
		return u.Disabled && !q.Disabled || q.Departments != nil && !slices.Contains(q.Departments, u.Department) ||
			text != "" && !slices.ContainsFunc([]string{u.Username, u.DisplayName, u.Phone, u.Extension}, func(v string) bool {
				return strings.Contains(strings.ToLower(v), text)
			})
	})
	f, err := keyset.InMemory(all, func(u *User) []byte { return keyset.VarKey(u.sortValue(q.Sort), u.ID) }, q.Order, q.Limit)
	if err != nil {
		return UserPage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return UserPage{Users: f.Items, Total: f.Total, Prev: f.Prev, Next: f.Next}, nil
}

func (u *User) sortValue(col string) []byte {
	switch col {
	case UserSortName:
		return keyset.Text(u.DisplayName)
	case UserSortCreated:
		return keyset.Uint(uint64(u.Created))
	}
	return keyset.Text(u.Username)
}
