package app

import (
	"strings"
	"testing"

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
