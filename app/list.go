package app

import (
	"slices"
	"strings"
	"time"
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

// Window is the window of time a list of records (moves, audit entries)
// reads, so that what a page costs is bounded by the window and not by
// the records kept: [from, to], at most max long. A zero from is days
// before the end; a zero to is now, or max after from. A window that
// runs to now is open (readTo is zero): it takes the records stamped a
// moment ahead of this replica's clock (an HLC may run ahead of the wall
// clock by the allowed offset). end is the window's end as shown. field
// names the end in an error.
func Window(from, to, now time.Time, days int, max time.Duration, field string) (start, readTo, end time.Time, err error) {
	end, readTo = to, to
	switch {
	case to.IsZero() && from.IsZero():
		end = now
	case to.IsZero():
		end = from.Add(max)
		if end.Before(now) {
			readTo = end
		} else {
			end = now
		}
	}
	if start = from; start.IsZero() {
		start = end.AddDate(0, 0, -days)
	}
	if end.Before(start) {
		return start, readTo, end, fault.Invalidf(field, "before_start", "the window ends before it starts")
	}
	if end.Sub(start) > max {
		return start, readTo, end, fault.Invalidf(field, "window_too_long", "at most %d days", max/(24*time.Hour))
	}
	return start, readTo, end, nil
}
