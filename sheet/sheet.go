// Package sheet writes tables for spreadsheet programs — CSV and XLSX —
// so that no cell is ever read as a formula, and reads back what it wrote.
// Every export (customers, the hub's reports, …) goes through it: CSV
// injection is stopped in one place. It depends on no store or transport.
//
// A spreadsheet program runs a cell starting with =, +, - or @ as a
// formula (and some trim a leading tab or CR first): "=HYPERLINK(…)",
// "-2+3" or "+1+2" typed into a customer's note would run on the machine
// of whoever opens the export. In a CSV file, such a cell gets a leading
// apostrophe, which makes it text; in an XLSX file, every cell is a string
// cell formatted as text, which is never run, even once edited, and shows
// as written — a phone number such as "+86 138 0013 8000" stays readable.
package sheet

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// live reports whether a spreadsheet program may read c as a formula.
func live(c string) bool {
	return c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0]))
}

// Escape returns cell as CSV text that no spreadsheet program runs: a
// cell starting with =, +, -, @, tab or carriage return gets a leading
// apostrophe. So does one that starts with an apostrophe already, so
// that Unescape gives back exactly what was escaped.
func Escape(cell string) string {
	if live(cell) || strings.HasPrefix(cell, "'") {
		return "'" + cell
	}
	return cell
}

// Unescape undoes Escape: it drops the apostrophe Escape put before a
// formula character or an apostrophe. Imports read cells through it, so
// that an exported file reads back as it was exported.
func Unescape(cell string) string {
	if rest, ok := strings.CutPrefix(cell, "'"); ok && (live(rest) || strings.HasPrefix(rest, "'")) {
		return rest
	}
	return cell
}

// WriteCSV writes rows as CSV, UTF-8 with a byte order mark (which Excel
// needs to read Chinese), every cell escaped.
func WriteCSV(w io.Writer, rows [][]string) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	for _, r := range rows {
		safe := make([]string, len(r))
		for i, c := range r {
			safe[i] = Escape(c)
		}
		if err := cw.Write(safe); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// textFormat is the built-in number format "@": the cell holds text.
const textFormat = 49

// WriteXLSX writes rows as the first sheet of an XLSX workbook. Every cell
// is a string formatted as text: numbers such as phone numbers and codes
// keep their leading zeros and signs, and nothing is a formula.
func WriteXLSX(w io.Writer, rows [][]string) error {
	x := excelize.NewFile()
	defer x.Close()
	const name = "Sheet1"
	style, err := x.NewStyle(&excelize.Style{NumFmt: textFormat})
	if err != nil {
		return err
	}
	sw, err := x.NewStreamWriter(name)
	if err != nil {
		return err
	}
	for i, r := range rows {
		cells := make([]any, len(r))
		for j, c := range r {
			cells[j] = excelize.Cell{StyleID: style, Value: c}
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, cells); err != nil {
			return fmt.Errorf("write row %d: %w", i+1, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = x.WriteTo(w)
	return err
}
