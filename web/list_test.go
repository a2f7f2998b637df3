package web

import (
	"net/url"
	"strings"
	"testing"
)

// wantList is what a List should hold, flat.
type wantList struct {
	Text, Sort string
	Desc       bool
	Cursor     string
	Back, Last bool
	Filters    url.Values
}

func TestParseList(t *testing.T) {
	spec := ListSpec{Sorts: []string{"name", "code", "created"}, Filters: []string{"status", "courier"}}
	newest := ListSpec{Sorts: []string{"created", "name"}, DefaultDesc: true}
	tests := []struct {
		name  string
		spec  ListSpec
		query string
		want  wantList
		here  string // List.Here, the page's own address
	}{
		{name: "empty", spec: spec, query: "",
			want: wantList{Sort: "name"}, here: "/l"},
		{name: "text and sort", spec: spec, query: "q=+浦东+&sort=code&dir=desc",
			want: wantList{Text: "浦东", Sort: "code", Desc: true}, here: "/l?dir=desc&q=%E6%B5%A6%E4%B8%9C&sort=code"},
		{name: "unknown column ignored", spec: spec, query: "sort=secret&dir=desc",
			want: wantList{Sort: "name", Desc: true}, here: "/l?dir=desc"},
		{name: "unknown direction ignored", spec: spec, query: "sort=code&dir=sideways",
			want: wantList{Sort: "code"}, here: "/l?sort=code"},
		{name: "after", spec: spec, query: "after=abc",
			want: wantList{Sort: "name", Cursor: "abc"}, here: "/l?after=abc"},
		{name: "before", spec: spec, query: "before=abc",
			want: wantList{Sort: "name", Cursor: "abc", Back: true}, here: "/l?before=abc"},
		{name: "both cursors ignored", spec: spec, query: "before=abc&after=def",
			want: wantList{Sort: "name"}, here: "/l"},
		{name: "last page", spec: spec, query: "page=last",
			want: wantList{Sort: "name", Last: true}, here: "/l?page=last"},
		{name: "a cursor wins over last", spec: spec, query: "page=last&after=x",
			want: wantList{Sort: "name", Cursor: "x"}, here: "/l?after=x"},
		{name: "filters kept, others dropped", spec: spec, query: "status=new&courier=+li+&evil=1&courier=",
			want: wantList{Sort: "name", Filters: url.Values{"status": {"new"}, "courier": {"li"}}}, here: "/l?courier=li&status=new"},
		{name: "overlong text dropped", spec: spec, query: "q=" + strings.Repeat("x", maxListParam+1),
			want: wantList{Sort: "name"}, here: "/l"},
		{name: "descending by default", spec: newest, query: "",
			want: wantList{Sort: "created", Desc: true}, here: "/l"},
		{name: "default column ascending", spec: newest, query: "dir=asc",
			want: wantList{Sort: "created"}, here: "/l?dir=asc"},
		{name: "other column ascending by default", spec: newest, query: "sort=name",
			want: wantList{Sort: "name"}, here: "/l?sort=name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got := ParseList("/l", q, tc.spec)
			if tc.want.Filters == nil {
				tc.want.Filters = url.Values{}
			}
			if got.Text != tc.want.Text || got.Sort != tc.want.Sort || got.Desc != tc.want.Desc || got.Cursor != tc.want.Cursor ||
				got.Back != tc.want.Back || got.Last != tc.want.Last || got.Filters.Encode() != tc.want.Filters.Encode() {
				t.Errorf("ParseList(%q) = %+v, want %+v", tc.query, got, tc.want)
			}
			if h := got.Here(); h != tc.here {
				t.Errorf("Here() = %q, want %q", h, tc.here)
			}
			// The page's own address reads back as the same list.
			u, _ := url.Parse(got.Here())
			again := ParseList("/l", u.Query(), tc.spec)
			if again.Here() != got.Here() {
				t.Errorf("Here() does not read back: %q → %q", got.Here(), again.Here())
			}
		})
	}
}

func TestListLinks(t *testing.T) {
	spec := ListSpec{Sorts: []string{"name", "code"}, Filters: []string{"status"}}
	l := ParseList("/l", url.Values{"sort": {"code"}, "status": {"new"}, "after": {"c1"}}, spec)
	tests := []struct{ name, got, want string }{
		{"sorted column flips", l.Col("code", "Code").URL, "/l?dir=desc&sort=code&status=new"},
		{"sorted column shows its order", l.Col("code", "Code").Sort, "ascending"},
		{"other column ascending, no cursor", l.Col("name", "Name").URL, "/l?status=new"},
		{"other column unsorted", l.Col("name", "Name").Sort, "none"},
		{"first", l.Pager(120, "p", "n").First, "/l?sort=code&status=new"},
		{"previous", l.Pager(120, "p", "n").Prev, "/l?before=p&sort=code&status=new"},
		{"next", l.Pager(120, "p", "n").Next, "/l?after=n&sort=code&status=new"},
		{"last", l.Pager(120, "p", "n").LastAt, "/l?page=last&sort=code&status=new"},
		{"no previous on the first page", l.Pager(120, "", "n").Prev + l.Pager(120, "", "n").First, ""},
		{"no next on the last page", l.Pager(120, "p", "").Next + l.Pager(120, "p", "").LastAt, ""},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
