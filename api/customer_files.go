package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/crm/crmapp"
	"branchline/crm/crmfile"
	crmv1 "branchline/gen/branchline/crm/v1"
)

func fileFormat(f crmv1.FileFormat) crmfile.FileFormat {
	switch f {
	case crmv1.FileFormat_FILE_FORMAT_CSV:
		return crmfile.CSV
	case crmv1.FileFormat_FILE_FORMAT_XLSX:
		return crmfile.XLSX
	}
	return 0
}

// PreviewImport implements CustomerService.PreviewImport.
func (s *CustomerService) PreviewImport(ctx context.Context, req *connect.Request[crmv1.PreviewImportRequest]) (*connect.Response[crmv1.PreviewImportResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.PreviewImportRequest) (*crmv1.PreviewImportResponse, error) {
		return pb(previewPB)(s.App.PreviewImport(ctx, c, crmapp.File{Content: m.GetContent(), Format: fileFormat(m.GetFormat())}))
	})
}

func previewPB(p *crmapp.Preview) *crmv1.PreviewImportResponse {
	out := &crmv1.PreviewImportResponse{Columns: p.Columns, UnknownColumns: p.Unknown,
		ValidRows: int32(p.Valid), ErrorRows: int32(p.Errors), DuplicateRows: int32(p.Duplicates)}
	for _, r := range p.Rows {
		pr := &crmv1.ImportRow{Line: int32(r.Line), Values: r.Values}
		for _, e := range r.Errors {
			pr.Errors = append(pr.Errors, &crmv1.FieldError{Field: e.Field, Code: e.Code, Detail: e.Detail})
		}
		for _, d := range r.Duplicates {
			pr.Duplicates = append(pr.Duplicates, &crmv1.ImportDuplicate{Line: int32(d.Line), DisplayName: d.DisplayName,
				Reasons: d.Reasons, Customer: ref(customerPrefix, d.CustomerID)})
		}
		out.Rows = append(out.Rows, pr)
	}
	return out
}

// CommitImport implements CustomerService.CommitImport.
func (s *CustomerService) CommitImport(ctx context.Context, req *connect.Request[crmv1.CommitImportRequest]) (*connect.Response[crmv1.CommitImportResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.CommitImportRequest) (*crmv1.CommitImportResponse, error) {
		in := crmapp.Import{File: crmapp.File{Content: m.GetContent(), Format: fileFormat(m.GetFormat())}}
		for _, l := range m.GetImportAnyway() {
			in.Anyway = append(in.Anyway, int(l))
		}
		return pb(func(r *crmapp.Imported) *crmv1.CommitImportResponse {
			out := &crmv1.CommitImportResponse{Imported: int32(len(r.Customers)), Skipped: int32(r.Skipped)}
			for _, id := range r.Customers {
				out.Customers = append(out.Customers, customerPrefix+id)
			}
			return out
		})(s.App.CommitImport(ctx, c, in))
	})
}

// ExportCustomers implements CustomerService.ExportCustomers.
func (s *CustomerService) ExportCustomers(ctx context.Context, req *connect.Request[crmv1.ExportCustomersRequest]) (*connect.Response[crmv1.ExportCustomersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.ExportCustomersRequest) (*crmv1.ExportCustomersResponse, error) {
		return pb(func(f *crmapp.Exported) *crmv1.ExportCustomersResponse {
			return &crmv1.ExportCustomersResponse{Content: f.Content, Filename: f.Filename, Rows: int32(f.Rows), ContentType: f.ContentType}
		})(s.App.Export(ctx, c, crmapp.Export{Search: searchOf(m.GetQuery(), m.GetFilters()), Format: fileFormat(m.GetFormat())}))
	})
}
