package label

import (
	"strconv"
	"strings"

	"branchline/fault"
)

// Paper is what a printout is laid out on: the print layout gives the
// page's body the class paper-<Paper>, whose page size and margins the
// print stylesheet (the web kernel's static/print.css) sets.
type Paper string

// The papers Branchline prints on.
const (
	// Plain is a sheet of office paper, A4 or A5, whichever the printer
	// holds (no page size is imposed), with 10 mm margins: pickup slips,
	// which fit A5, and lists, which fit A4's width.
	Plain Paper = "plain"
	// Shipping is a 100 × 150 mm label of a thermal label printer, one
	// label a page, edge to edge: the pickup's shipping label.
	Shipping Paper = "shipping"
	// Sheet is an A4 sheet of PerSheet self-adhesive labels, 3 across and
	// 7 down, each 63.5 × 38.1 mm (the common "21 a sheet" format, such
	// as Avery L7160): product barcode labels.
	Sheet Paper = "sheet"
)

// PerSheet is the labels on one sheet of paper Sheet.
const PerSheet = 21

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
