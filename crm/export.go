package crm

import (
	"fmt"
	"io"
	"strings"
	"time"

	"branchline/sheet"
)

// MaxExportRows bounds one export.
const MaxExportRows = 100000

// ExportHeader returns the header row of an export: the id, the built-in
// fields by their Chinese labels, the custom fields that are not retired
// by theirs, and the registration time. ParseImport reads it back.
func ExportHeader(defs []CustomField) []string {
	h := []string{"客户ID"}
	for _, f := range Fields {
		h = append(h, FieldLabels[f.Name])
	}
	for _, d := range defs {
		if !d.Retired {
			h = append(h, d.Label)
		}
	}
	return append(h, "注册时间")
}

// ExportRecord returns c's row under ExportHeader(defs), with times in
// loc, the business time zone the pages show them in. Phone numbers are
// written as dialled in the default region, or masked (138****5678) when
// masked is true.
func ExportRecord(c *Customer, defs []CustomField, masked bool, loc *time.Location) []string {
	row := []string{c.ID}
	for _, f := range Fields {
		v := c.Fields[f.Name]
		if f.typ == phoneField && v != "" {
			if masked {
				v = MaskPhone(v)
			} else {
				v = FormatPhone(v, DefaultRegion)
			}
		}
		row = append(row, v)
	}
	for _, d := range defs {
		if !d.Retired {
			row = append(row, c.Custom[d.Key])
		}
	}
	return append(row, c.Created.Time().In(loc).Format("2006-01-02 15:04"))
}

// WriteTable writes a header and rows as CSV or XLSX (package sheet: no
// cell is ever read as a formula, phone numbers and codes stay as written).
func WriteTable(w io.Writer, format FileFormat, header []string, rows [][]string) error {
	all := append([][]string{header}, rows...)
	switch format {
	case CSV:
		return sheet.WriteCSV(w, all)
	case XLSX:
		return sheet.WriteXLSX(w, all)
	}
	return fmt.Errorf("export format %d: unknown", format)
}

// ExportFilename names an export file made at t, in its time zone.
func ExportFilename(format FileFormat, t time.Time) string {
	ext := "csv"
	if format == XLSX {
		ext = "xlsx"
	}
	return "customers-" + strings.ReplaceAll(t.Format("20060102-150405"), ":", "") + "." + ext
}
