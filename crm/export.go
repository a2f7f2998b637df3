package crm

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
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

// WriteTable writes a header and rows as CSV (UTF-8 with a byte order
// mark, which Excel needs to read Chinese) or as an XLSX workbook whose
// cells are all text, so that numbers such as phone numbers and codes keep
// their leading zeros and digits.
func WriteTable(w io.Writer, format FileFormat, header []string, rows [][]string) error {
	switch format {
	case CSV:
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		for _, r := range append([][]string{header}, rows...) {
			safe := make([]string, len(r))
			for i, c := range r {
				safe[i] = defuseFormula(c)
			}
			if err := cw.Write(safe); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case XLSX:
		x := excelize.NewFile()
		defer x.Close()
		const sheet = "Sheet1"
		sw, err := x.NewStreamWriter(sheet)
		if err != nil {
			return err
		}
		for i, r := range append([][]string{header}, rows...) {
			cells := make([]any, len(r))
			for j, c := range r {
				cells[j] = excelize.Cell{Value: c}
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
	return fmt.Errorf("export format %d: unknown", format)
}

// defuseFormula keeps spreadsheet programs from running a CSV cell as a
// formula (CSV injection): text starting with =, @, a tab or CR, or with +
// or - not followed by a digit, gets a leading apostrophe.
func defuseFormula(c string) string {
	if c == "" {
		return c
	}
	switch c[0] {
	case '=', '@', '\t', '\r':
		return "'" + c
	case '+', '-':
		if len(c) == 1 || c[1] < '0' || c[1] > '9' {
			return "'" + c
		}
	}
	return c
}

// ExportFilename names an export file made at t.
func ExportFilename(format FileFormat, t time.Time) string {
	ext := "csv"
	if format == XLSX {
		ext = "xlsx"
	}
	return "customers-" + strings.ReplaceAll(t.In(exportZone).Format("20060102-150405"), ":", "") + "." + ext
}
