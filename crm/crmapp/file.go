package crmapp

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmfile"
	"branchline/fault"
	"branchline/replication"
)

// Import and export of customers as CSV or XLSX.

// importChunk is how many rows one import transaction creates: small
// enough for one store transaction, large enough to keep commits few.
const importChunk = 200

// File is an uploaded file of customers.
type File struct {
	Content []byte
	// Format is crmfile.CSV or crmfile.XLSX; 0 is none.
	Format crmfile.FileFormat
}

func (f File) check() error {
	if f.Format != crmfile.CSV && f.Format != crmfile.XLSX {
		return fault.Invalidf("format", "required", "the format must be CSV or XLSX")
	}
	return nil
}

// FormatName names a file format in audit entries and the API.
func FormatName(f crmfile.FileFormat) string {
	if f == crmfile.XLSX {
		return "FILE_FORMAT_XLSX"
	}
	return "FILE_FORMAT_CSV"
}

// preview parses and previews a file against the views.
func preview(views replication.Tx, f File) (*crmfile.ImportFile, []crmfile.ImportRow, error) {
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	defs, err := crm.CustomFields(views)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := crmfile.ParseImport(bytes.NewReader(f.Content), f.Format, defs)
	if err != nil {
		return nil, nil, err
	}
	rows, err := crmfile.PreviewImport(views, parsed)
	return parsed, rows, err
}

// importOwner gives a row without owner the importing user (and their
// first department, unless their scope is the whole company), and tells
// whether the caller's scope reaches the row's owner and department.
func importOwner(c app.Caller, values map[string]string) bool {
	if values["owner"] == "" {
		values["owner"] = c.User
	}
	if values["department"] == "" && len(c.Departments) > 0 && c.Scope(access.CustomerImport) != access.ScopeAll {
		values["department"] = c.Departments[0]
	}
	return c.Reaches(access.CustomerImport, values["owner"], values["department"])
}

// Preview is what an import would do: per row, the canonical values, the
// errors and the duplicates.
type Preview struct {
	Columns []string // field name per column; "" for a column not imported
	Unknown []string // header cells that name no field
	Rows    []crmfile.ImportRow
	// Valid, Errors and Duplicates count the rows of each kind.
	Valid, Errors, Duplicates int
}

// PreviewImport previews a file without writing anything. Rows the
// caller's scope does not reach are in error.
func (s *Customers) PreviewImport(_ context.Context, c app.Caller, f File) (*Preview, error) {
	if err := c.Require(access.CustomerImport); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) (*Preview, error) {
		parsed, rows, err := preview(views, f)
		if err != nil {
			return nil, err
		}
		out := &Preview{Columns: parsed.Columns, Unknown: parsed.Unknown, Rows: rows}
		for i := range rows {
			r := &rows[i]
			if !importOwner(c, r.Values) {
				r.Errors = append(r.Errors, &fault.Invalid{Field: "owner", Code: "out_of_scope", Detail: "owner and department are outside your data scope"})
			}
			switch {
			case len(r.Errors) > 0:
				out.Errors++
			case len(r.Duplicates) > 0:
				out.Duplicates++
			default:
				out.Valid++
			}
		}
		return out, nil
	})
}

// Import is a file to import, with the lines of duplicate rows to import
// anyway.
type Import struct {
	File
	Anyway []int
}

// Imported is what an import did.
type Imported struct {
	Customers []string // the ids of the customers created, in file order
	Skipped   int      // rows with errors, and duplicates not imported anyway
}

// CommitImport previews the file again against the current views, then
// creates the importable rows in transactions of importChunk rows, each
// with its audit entry.
func (s *Customers) CommitImport(ctx context.Context, c app.Caller, req Import) (*Imported, error) {
	if err := c.Require(access.CustomerImport); err != nil {
		return nil, err
	}
	rows, err := app.Read(s.Store, func(views replication.Tx) ([]crmfile.ImportRow, error) {
		_, rows, err := preview(views, req.File)
		return rows, err
	})
	if err != nil {
		return nil, err
	}
	var todo []map[string]string
	for i := range rows {
		r := &rows[i]
		if importOwner(c, r.Values) && r.Importable(slices.Contains(req.Anyway, r.Line)) {
			todo = append(todo, r.Values)
		}
	}
	out := &Imported{Skipped: len(rows) - len(todo)}
	for chunk := range slices.Chunk(todo, importChunk) {
		ids := make([]string, len(chunk))
		for i := range ids {
			ids[i] = s.IDs.New(s.Now.Time())
		}
		detail := fmt.Sprintf("imported %d of %d rows (rows %d–%d of those to import; %d bytes, %s)",
			len(chunk), len(rows), len(out.Customers)+1, len(out.Customers)+len(chunk), len(req.Content), FormatName(req.Format))
		if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, "customer.import", "customers", func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
			ds := make([]replication.Draft, 0, len(chunk))
			for i, values := range chunk {
				d, err := crm.CreateCustomer(views, ids[i], values)
				if err != nil {
					return nil, access.AuditNote{}, err
				}
				ds = append(ds, d)
			}
			return ds, access.AuditNote{Detail: detail}, nil
		}); err != nil {
			return nil, fmt.Errorf("import stopped after %d rows: %w", len(out.Customers), err)
		}
		out.Customers = append(out.Customers, ids...)
	}
	return out, nil
}

// Export is a search to hand out as a file.
type Export struct {
	Search
	Format crmfile.FileFormat
	// Labels name the columns (crmfile.ExportColumns) in the reader's
	// language; a column they do not name has the Chinese label of the
	// source documents (crmfile.ExportHeader).
	Labels map[string]string
}

// Exported is an export's file.
type Exported struct {
	Content     []byte
	Filename    string
	ContentType string
	Rows        int
}

// Export writes the customers a search finds that the caller may read
// and export as a CSV or XLSX file, phone numbers masked where the caller
// may not see them. The export is recorded in the audit log before the
// file is handed out; when the record cannot be written, there is no
// file.
func (s *Customers) Export(ctx context.Context, c app.Caller, req Export) (*Exported, error) {
	if err := c.Require(access.CustomerExport); err != nil {
		return nil, err
	}
	if err := (File{Format: req.Format}).check(); err != nil {
		return nil, err
	}
	q, err := req.domain()
	if err != nil {
		return nil, err
	}
	type table struct {
		header  []string
		records [][]string
		masked  int
	}
	t, err := app.Read(s.Store, func(views replication.Tx) (table, error) {
		var t table
		defs, err := crm.CustomFields(views)
		if err != nil {
			return t, err
		}
		t.header = crmfile.ExportHeader(defs, req.Labels)
		q.Limit = crmfile.MaxExportRows + 1
		cs, _, err := search(views, c, q, access.CustomerRead, access.CustomerExport)
		if err != nil {
			return t, err
		}
		if len(cs) > crmfile.MaxExportRows {
			return t, fault.Invalidf("filters", "too_many_rows", "more than %d customers match; narrow the search", crmfile.MaxExportRows)
		}
		for _, cu := range cs {
			m := !reaches(c, access.PhoneView, cu)
			if m {
				t.masked++
			}
			t.records = append(t.records, crmfile.ExportRecord(cu, defs, m, app.Zone(s.Location)))
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := crmfile.WriteTable(&buf, req.Format, t.header, t.records); err != nil {
		return nil, err
	}
	var conds []string
	for _, f := range q.Filters {
		conds = append(conds, fmt.Sprintf("%s %d %q", f.Field, f.Op, f.Value))
	}
	detail := fmt.Sprintf("%d customers (%d with masked phones) as %s; query %q; filters [%s]",
		len(t.records), t.masked, FormatName(req.Format), q.Text, strings.Join(conds, ", "))
	if _, err := s.Store.Exec(ctx, c.User, func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{access.AuditDraft("customer.export", "customers", detail, access.WithSource(s.Node, c.Remote))}, nil
	}); err != nil {
		return nil, fmt.Errorf("export not recorded in the audit log: %w: %w", fault.ErrUnavailable, err)
	}
	out := &Exported{Content: buf.Bytes(), Filename: crmfile.ExportFilename(req.Format, s.Now.Time().In(app.Zone(s.Location))), Rows: len(t.records),
		ContentType: "text/csv; charset=utf-8"}
	if req.Format == crmfile.XLSX {
		out.ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return out, nil
}
