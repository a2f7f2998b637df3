package crmfile

import (
	"fmt"
	"io"
	"strings"
	"time"

	"branchline/crm"
	"branchline/sheet"
)

// MaxExportRows bounds one export.
const MaxExportRows = 100000

// Columns of an export besides the fields: the customer's id and when it
// was registered.
const (
	ExportID      = "id"
	ExportCreated = "created"
)

// ExportColumns names the columns of an export: the id, the built-in
// fields by name, the custom fields that are not retired
// ("custom.<key>"), and the registration time.
func ExportColumns(defs []crm.CustomField) []string {
	cols := []string{ExportID}
	for _, f := range crm.Fields {
		cols = append(cols, f.Name)
	}
	for _, d := range defs {
		if !d.Retired {
			cols = append(cols, crm.CustomPrefix+d.Key)
		}
	}
	return append(cols, ExportCreated)
}

// ExportHeader returns the header row of an export, a name per column of
// ExportColumns: labels' name for it when it has one (the reader's
// language), else the Chinese label of the source documents (a custom
// field's own label). A name is given once, and names its own column to
// ParseImport: a column whose name an earlier column has, or an import
// would read as another field (a custom field labelled 城市), is named by
// its column name ("custom.grade") instead.
func ExportHeader(defs []crm.CustomField, labels map[string]string) []string {
	custom := map[string]string{}
	for _, d := range defs {
		custom[crm.CustomPrefix+d.Key] = d.Label
	}
	var h []string
	taken := map[string]bool{}
	builtins := builtinHeaders()
	for _, col := range ExportColumns(defs) {
		name := labels[col]
		if name == "" {
			switch col {
			case ExportID:
				name = "客户ID"
			case ExportCreated:
				name = "注册时间"
			default:
				name = FieldLabels[col]
				if name == "" {
					name = custom[col]
				}
			}
		}
		if name == "" || taken[crm.Fold(name)] || !readsAs(builtins, name, col) {
			name = col
		}
		for i := 2; taken[crm.Fold(name)]; i++ {
			name = fmt.Sprintf("%s (%d)", col, i)
		}
		taken[crm.Fold(name)] = true
		h = append(h, name)
	}
	return h
}

// readsAs says whether an import reads header name as column col, or at
// least as no other column (a custom field's label, which the field's
// definition maps).
func readsAs(builtins map[string]string, name, col string) bool {
	to, known := builtins[crm.Fold(name)]
	switch {
	case !known:
		return true
	case to == "":
		return col == ExportID || col == ExportCreated
	}
	return to == col
}

// ExportRecord returns c's row under ExportHeader(defs, …), with times in
// loc, the business time zone the pages show them in. Phone numbers are
// written as dialled in the default region, or masked (138****5678) when
// masked is true.
func ExportRecord(c *crm.Customer, defs []crm.CustomField, masked bool, loc *time.Location) []string {
	row := []string{c.ID}
	for _, f := range crm.Fields {
		v := c.Fields[f.Name]
		if f.IsPhone() && v != "" {
			if masked {
				v = crm.MaskPhone(v)
			} else {
				v = crm.FormatPhone(v, crm.DefaultRegion)
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
