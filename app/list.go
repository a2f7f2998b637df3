package app

import (
	"slices"
	"strings"
	"unicode/utf8"

	"branchline/fault"
)

// MaxListText bounds a list's search text, in characters.
const MaxListText = 100

// CheckList validates what a list request asks of the list's columns
// cols: a column to sort by among them ("" for the list's default) and a
// search text.
func CheckList(sort string, cols []string, text string) error {
	if sort != "" && !slices.Contains(cols, sort) {
		return fault.Invalidf("sort", "unknown_column", "cannot sort by %q", sort)
	}
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return fault.Invalidf("q", "bad_text", "not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(text); n > MaxListText {
		return fault.Invalidf("q", "too_long", "%d characters, at most %d", n, MaxListText)
	}
	return nil
}
