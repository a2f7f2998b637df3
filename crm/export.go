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

// exportZone is the time zone export files show times in (China Standard
// Time, without needing the system's zone database).
var exportZone = time.FixedZone("CST", 8*3600)

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

// ExportRecord returns c's row under ExportHeader(defs). Phone numbers are
// written as dialled in the default region, or masked (138****5678) when
// masked is true.
func ExportRecord(c *Customer, defs []CustomField, masked bool) []string {
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
	return append(row, c.Created.Time().In(exportZone).Format("2006-01-02 15:04"))
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

// ExportFilename names an export file made at t.
func ExportFilename(format FileFormat, t time.Time) string {
	ext := "csv"
	if format == XLSX {
		ext = "xlsx"
	}
	return "customers-" + strings.ReplaceAll(t.In(exportZone).Format("20060102-150405"), ":", "") + "." + ext
}
