package label

import (
	"strconv"
	"strings"

	"branchline/fault"
)

// MaxCopies bounds the copies of one print of labels: a few boxes of
// sheets, not a page that takes the browser minutes to lay out.
const MaxCopies = 500

// Copies reads how many copies of a label to print from a form's value:
// blank is one; anything but a whole number from 1 to MaxCopies is an
// invalid input ("copies", "bad_copies").
func Copies(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxCopies {
		return 0, fault.Invalidf("copies", "bad_copies", "%q is not a number of copies from 1 to %d", v, MaxCopies)
	}
	return n, nil
}

// Sheets splits items into sheets of per each, in order, the last holding
// what is left: a page lays each out on a sheet of its own, so that a
// label never straddles two sheets whatever the printer's rounding. No
// items is no sheets; per below 1 is one item a sheet.
func Sheets[T any](items []T, per int) [][]T {
	per = max(per, 1)
	var out [][]T
	for len(items) > 0 {
		n := min(per, len(items))
		out = append(out, items[:n:n])
		items = items[n:]
	}
	return out
}
