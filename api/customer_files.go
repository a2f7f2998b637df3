package api

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// importChunk is how many rows one import transaction creates: small
// enough for one store transaction, large enough to keep commits few.
const importChunk = 200

func fileFormat(f crmv1.FileFormat) (crm.FileFormat, error) {
	switch f {
	case crmv1.FileFormat_FILE_FORMAT_CSV:
		return crm.CSV, nil
	case crmv1.FileFormat_FILE_FORMAT_XLSX:
		return crm.XLSX, nil
	}
	return 0, fault.Invalidf("format", "required", "the format must be CSV or XLSX")
}

// previewFile parses and previews a file against the views.
func previewFile(views replication.Tx, content []byte, format crmv1.FileFormat) (*crm.ImportFile, []crm.ImportRow, error) {
	ff, err := fileFormat(format)
	if err != nil {
		return nil, nil, err
	}
	defs, err := crm.CustomFields(views)
	if err != nil {
		return nil, nil, err
	}
	f, err := crm.ParseImport(bytes.NewReader(content), ff, defs)
	if err != nil {
		return nil, nil, err
	}
	rows, err := crm.PreviewImport(views, f)
	return f, rows, err
}

// importOwner gives a row without owner the importing user, and tells
// whether the grant reaches the row's owner and department.
func importOwner(g *access.Grant, values map[string]string) bool {
	if values["owner"] == "" {
		values["owner"] = g.User
	}
	if values["department"] == "" && len(g.Departments) > 0 && g.Scope(access.CustomerImport) != access.ScopeAll {
		values["department"] = g.Departments[0]
	}
	return g.Reaches(access.CustomerImport, values["owner"], values["department"])
}

// PreviewImport implements CustomerService.PreviewImport.
func (s *CustomerService) PreviewImport(ctx context.Context, req *connect.Request[crmv1.PreviewImportRequest]) (*connect.Response[crmv1.PreviewImportResponse], error) {
	g, err := s.require(ctx, access.CustomerImport)
	if err != nil {
		return nil, err
	}
	resp := &crmv1.PreviewImportResponse{}
	err = s.view(func(views replication.Tx) error {
		f, rows, err := previewFile(views, req.Msg.GetContent(), req.Msg.GetFormat())
		if err != nil {
			return err
		}
		resp.Columns, resp.UnknownColumns = f.Columns, f.Unknown
		for i := range rows {
			r := &rows[i]
			if !importOwner(g, r.Values) {
				r.Errors = append(r.Errors, &fault.Invalid{Field: "owner", Code: "out_of_scope", Detail: "owner and department are outside your data scope"})
			}
			pr := &crmv1.ImportRow{Line: int32(r.Line), Values: r.Values}
			for _, e := range r.Errors {
				pr.Errors = append(pr.Errors, &crmv1.FieldError{Field: e.Field, Code: e.Code, Detail: e.Detail})
			}
			for _, d := range r.Duplicates {
				pd := &crmv1.ImportDuplicate{Line: int32(d.Line), DisplayName: d.DisplayName, Reasons: d.Reasons}
				if d.CustomerID != "" {
					pd.Customer = customerPrefix + d.CustomerID
				}
				pr.Duplicates = append(pr.Duplicates, pd)
			}
			switch {
			case len(r.Errors) > 0:
				resp.ErrorRows++
			case len(r.Duplicates) > 0:
				resp.DuplicateRows++
			default:
				resp.ValidRows++
			}
			resp.Rows = append(resp.Rows, pr)
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

// CommitImport implements CustomerService.CommitImport. It previews the
// file again against the current views, then creates the importable rows
// in transactions of importChunk rows.
func (s *CustomerService) CommitImport(ctx context.Context, req *connect.Request[crmv1.CommitImportRequest]) (*connect.Response[crmv1.CommitImportResponse], error) {
	g, err := s.require(ctx, access.CustomerImport)
	if err != nil {
		return nil, err
	}
	anyway := map[int]bool{}
	for _, l := range req.Msg.GetImportAnyway() {
		anyway[int(l)] = true
	}
	var rows []crm.ImportRow
	err = s.view(func(views replication.Tx) error {
		var err error
		_, rows, err = previewFile(views, req.Msg.GetContent(), req.Msg.GetFormat())
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var todo []map[string]string
	for i := range rows {
		r := &rows[i]
		if importOwner(g, r.Values) && r.Importable(anyway[r.Line]) {
			todo = append(todo, r.Values)
		}
	}
	resp := &crmv1.CommitImportResponse{Skipped: int32(len(rows) - len(todo))}
	var failed error
	for chunk := range slices.Chunk(todo, importChunk) {
		ids := make([]string, len(chunk))
		for i := range ids {
			ids[i] = s.IDs.New(time.Now())
		}
		_, err := s.exec(ctx, func(views replication.Tx) ([]replication.Draft, error) {
			ds := make([]replication.Draft, 0, len(chunk))
			for i, values := range chunk {
				d, err := crm.CreateCustomer(views, ids[i], values)
				if err != nil {
					return nil, err
				}
				ds = append(ds, d)
			}
			return ds, nil
		})
		if err != nil {
			failed = err
			break
		}
		for _, id := range ids {
			resp.Customers = append(resp.Customers, customerPrefix+id)
		}
		resp.Imported += int32(len(chunk))
	}
	if resp.Imported > 0 || failed == nil {
		s.audit(ctx, "customer.import", "customers", fmt.Sprintf("imported %d of %d rows (%d bytes, %s)",
			resp.Imported, len(rows), len(req.Msg.GetContent()), req.Msg.GetFormat()))
	}
	if failed != nil {
		return nil, Error(s.Log, fmt.Errorf("import stopped after %d rows: %w", resp.Imported, failed))
	}
	return connect.NewResponse(resp), nil
}

// ExportCustomers implements CustomerService.ExportCustomers. The export
// is recorded in the audit log before the file is handed out; when the
// record cannot be written, there is no file.
func (s *CustomerService) ExportCustomers(ctx context.Context, req *connect.Request[crmv1.ExportCustomersRequest]) (*connect.Response[crmv1.ExportCustomersResponse], error) {
	g, err := s.require(ctx, access.CustomerExport)
	if err != nil {
		return nil, err
	}
	ff, err := fileFormat(req.Msg.GetFormat())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	q, err := customerSearchOf(req.Msg.GetFilters(), req.Msg.GetQuery())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var header []string
	var records [][]string
	masked := 0
	err = s.view(func(views replication.Tx) error {
		defs, err := crm.CustomFields(views)
		if err != nil {
			return err
		}
		header = crm.ExportHeader(defs)
		q.Limit = crm.MaxExportRows + 1
		cs, _, err := s.search(views, g, q, access.CustomerRead, access.CustomerExport)
		if err != nil {
			return err
		}
		if len(cs) > crm.MaxExportRows {
			return fault.Invalidf("filters", "too_many_rows", "more than %d customers match; narrow the search", crm.MaxExportRows)
		}
		for _, c := range cs {
			m := !reachesCustomer(g, access.PhoneView, c)
			if m {
				masked++
			}
			records = append(records, crm.ExportRecord(c, defs, m))
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var buf bytes.Buffer
	if err := crm.WriteTable(&buf, ff, header, records); err != nil {
		return nil, Error(s.Log, err)
	}
	var conds []string
	for _, f := range q.Filters {
		conds = append(conds, fmt.Sprintf("%s %d %q", f.Field, f.Op, f.Value))
	}
	if s.Auditor != nil {
		detail := fmt.Sprintf("%d customers (%d with masked phones) as %s; query %q; filters [%s]",
			len(records), masked, req.Msg.GetFormat(), q.Text, strings.Join(conds, ", "))
		if err := s.Auditor.Record(ctx, "customer.export", "customers", detail); err != nil {
			return nil, Error(s.Log, fmt.Errorf("export not recorded in the audit log: %w: %w", ErrUnavailable, err))
		}
	}
	resp := &crmv1.ExportCustomersResponse{
		Content: buf.Bytes(), Filename: crm.ExportFilename(ff, time.Now()), Rows: int32(len(records)),
		ContentType: "text/csv; charset=utf-8",
	}
	if ff == crm.XLSX {
		resp.ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return connect.NewResponse(resp), nil
}
