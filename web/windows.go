package web

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The time-window editor of roles and blacklisted numbers: rows of seven
// day boxes with a start and an end time. Inputs are named as the APIs
// name the fields ("windows[0].days", "windows[0].start_time"), so that an
// API error lands on its row. Blank rows are dropped before a save, so
// that the row numbers the API reports are those shown.

// maxWindowRows bounds the rows read from a form.
const maxWindowRows = 32

// blankWindowRows are the empty rows the editor offers for new windows.
const blankWindowRows = 2

// DayBox is one day of a row: its ISO number and whether it is ticked.
type DayBox struct {
	N  int // ISO day: 1 Monday … 7 Sunday
	On bool
}

// WindowRow is one row of the editor.
type WindowRow struct {
	Prefix     string // "windows[0]"
	Start, End string
	Days       []DayBox
	Err        string // messages for the row's fields
}

// Name is the name of the row's input for field ("days", "start_time", …).
func (w WindowRow) Name(field string) string { return w.Prefix + "." + field }

// blank reports whether the row has nothing in it.
func (w WindowRow) blank() bool {
	if w.Start != "" || w.End != "" {
		return false
	}
	for _, d := range w.Days {
		if d.On {
			return false
		}
	}
	return true
}

// ISODays lists the row's days.
func (w WindowRow) ISODays() []int32 {
	var out []int32
	for _, d := range w.Days {
		if d.On {
			out = append(out, int32(d.N))
		}
	}
	return out
}

// NewWindowRow is row i with the days and times given.
func NewWindowRow(i int, days []int32, start, end string) WindowRow {
	w := WindowRow{Prefix: fmt.Sprintf("windows[%d]", i), Start: start, End: end}
	for n := 1; n <= 7; n++ {
		on := false
		for _, d := range days {
			on = on || int(d) == n
		}
		w.Days = append(w.Days, DayBox{N: n, On: on})
	}
	return w
}

// ReadWindows reads the editor's rows from a form, without blank ones;
// start and end are the names of the time fields.
func ReadWindows(form url.Values, start, end string) []WindowRow {
	var out []WindowRow
	for i := range maxWindowRows {
		pre := fmt.Sprintf("windows[%d].", i)
		var days []int32
		for _, v := range form[pre+"days"] {
			if n, err := strconv.Atoi(v); err == nil {
				days = append(days, int32(n))
			}
		}
		w := NewWindowRow(len(out), days, strings.TrimSpace(form.Get(pre+start)), strings.TrimSpace(form.Get(pre+end)))
		if !w.blank() {
			out = append(out, w)
		}
	}
	return out
}

// WithBlankRows appends empty rows for new windows.
func WithBlankRows(rows []WindowRow) []WindowRow {
	for range blankWindowRows {
		rows = append(rows, NewWindowRow(len(rows), nil, "", ""))
	}
	return rows
}

// WindowErrors gives each row the messages p holds for its fields.
func WindowErrors(rows []WindowRow, errs map[string]string) {
	for i := range rows {
		var msgs []string
		for k, v := range errs {
			if k == rows[i].Prefix || strings.HasPrefix(k, rows[i].Prefix+".") {
				msgs = append(msgs, v)
			}
		}
		rows[i].Err = strings.Join(msgs, " ")
	}
}

// WindowText is a short text of windows for lists: "Mon–Fri 08:00–18:00".
func WindowText(p *Page, days []int32, start, end string) string {
	var names []string
	for _, d := range days {
		names = append(names, p.T(fmt.Sprintf("admin.day.%d", d)))
	}
	if len(days) == 0 || len(days) == 7 {
		names = []string{p.T("admin.day.every")}
	}
	return strings.Join(names, p.T("admin.day.sep")) + " " + start + "–" + end
}
