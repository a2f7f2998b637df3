package app

import (
	"strings"
	"testing"
	"time"

	"branchline/fault"
)

func TestCheckList(t *testing.T) {
	cols := []string{"name", "code"}
	tests := []struct {
		name, sort, text string
		field, code      string // of the error; "" for none
	}{
		{"default order", "", "", "", ""},
		{"a column", "code", "浦东", "", ""},
		{"an unknown column", "secret", "", "sort", "unknown_column"},
		{"text at the bound", "", strings.Repeat("字", MaxListText), "", ""},
		{"text too long", "", strings.Repeat("字", MaxListText+1), "q", "too_long"},
		{"NUL in text", "", "a\x00b", "q", "bad_text"},
		{"invalid UTF-8", "", "\xff", "q", "bad_text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckList(tc.sort, cols, tc.text)
			inv, ok := fault.AsInvalid(err)
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.field != "" && (!ok || inv.Field != tc.field || inv.Code != tc.code):
				t.Errorf("error %v, want %s/%s", err, tc.field, tc.code)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	max := 10 * 24 * time.Hour
	tests := []struct {
		name             string
		from, to         time.Time
		start, read, end time.Time
		code             string // of the error; "" for none
	}{
		{"none: the last days to now, open", time.Time{}, time.Time{}, now.AddDate(0, 0, -3), time.Time{}, now, ""},
		{"a start: to now, open", day(5), time.Time{}, day(5), time.Time{}, now, ""},
		{"a start long ago: max from it", day(5).AddDate(0, -1, 0), time.Time{}, day(5).AddDate(0, -1, 0), day(5).AddDate(0, -1, 0).Add(max), day(5).AddDate(0, -1, 0).Add(max), ""},
		{"an end: the days before it", time.Time{}, day(8), day(5), day(8), day(8), ""},
		{"both", day(1), day(9), day(1), day(9), day(9), ""},
		{"the end first", day(9), day(1), day(9), day(1), day(1), "before_start"},
		{"too long", day(1), day(1).Add(max + time.Hour), day(1), day(1).Add(max + time.Hour), day(1).Add(max + time.Hour), "window_too_long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, read, end, err := Window(tc.from, tc.to, now, 3, max, "to")
			inv, _ := fault.AsInvalid(err)
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != "" && (inv == nil || inv.Code != tc.code || inv.Field != "to"):
				t.Fatalf("error %v, want %s on to", err, tc.code)
			case tc.code == "" && (!start.Equal(tc.start) || !read.Equal(tc.read) || !end.Equal(tc.end)):
				t.Errorf("window %v, %v, %v; want %v, %v, %v", start, read, end, tc.start, tc.read, tc.end)
			}
		})
	}
}
