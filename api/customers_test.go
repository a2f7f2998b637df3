package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/xuri/excelize/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"branchline/access"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/crmapp"
	accessv1 "branchline/gen/branchline/access/v1"
	crmv1 "branchline/gen/branchline/crm/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// customerGrants are the test users' grants.
func customerGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	all := func(perms ...access.Perm) *access.Grant {
		g := &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{}}
		for _, perm := range perms {
			g.Scopes[perm] = access.ScopeAll
		}
		return g
	}
	if perm, ok := strings.CutPrefix(p.User, "all-but-"); ok {
		g := access.Superuser(p.User)
		delete(g.Scopes, access.Perm(perm))
		return g, nil
	}
	switch p.User {
	case "admin":
		return access.Superuser("admin"), nil
	case "clerk": // reads, writes, exports; phone numbers masked
		return all(access.CustomerRead, access.CustomerWrite, access.CustomerExport), nil
	case "own": // only customers they own
		g := all()
		g.Scopes[access.CustomerRead] = access.ScopeOwn
		g.Scopes[access.CustomerWrite] = access.ScopeOwn
		g.Scopes[access.PhoneView] = access.ScopeOwn
		return g, nil
	}
	return &access.Grant{User: p.User}, nil // nobody
}

func asCustomerUser(user string) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{User: user})
}

// recordingAuditor reads the audit entries the service's changes
// recorded, in the order they were recorded.
type recordingAuditor struct{ st *memStore }

func (a *recordingAuditor) actions() []string {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	var out []string
	for _, ev := range a.st.events {
		body := ev.Body
		if _, att, ok := replication.SplitCompound(ev.Kind); ok && att == access.KindAuditRecorded {
			// The entry recorded with its change (compound event).
			var c replicationv1.Compound
			if err := proto.Unmarshal(ev.Body, &c); err != nil {
				panic(err)
			}
			body = c.GetAttached()
		} else if ev.Kind != access.KindAuditRecorded {
			continue
		}
		b := &accessv1.AuditRecorded{}
		if err := proto.Unmarshal(body, b); err != nil {
			panic(err)
		}
		out = append(out, ev.Actor+" "+b.GetAction())
	}
	return out
}

func newCustomerService(t *testing.T) (*CustomerService, *memStoreCustomers, *recordingAuditor) {
	t.Helper()
	st := newMemStoreCustomers(t)
	return &CustomerService{App: &crmapp.Customers{Store: st, IDs: replication.NewIDs()}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Grants: customerGrants}, st, &recordingAuditor{st}
}

func mustCreate(t *testing.T, s *CustomerService, c *crmv1.Customer) *crmv1.Customer {
	t.Helper()
	resp, err := s.CreateCustomer(asCustomerUser("admin"), connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: c, AllowDuplicate: true}))
	if err != nil {
		t.Fatalf("create %v: %v", c, err)
	}
	return resp.Msg
}

func wantCustomerCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("err = %v (code %v), want %v", err, connect.CodeOf(err), code)
	}
}

// fixture: two customers, a contact, a custom field, a deleted customer.
type customerFixture struct {
	a, b, gone *crmv1.Customer
	contact    string
	csv        []byte
}

func newCustomerFixture(t *testing.T, s *CustomerService) customerFixture {
	t.Helper()
	ctx := asCustomerUser("admin")
	if _, err := s.DefineCustomField(ctx, connect.NewRequest(&crmv1.DefineCustomFieldRequest{Field: &crmv1.CustomField{
		Key: "channel", Label: "来源", Kind: crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_CHOICE, Options: []string{"电话", "网站"}}})); err != nil {
		t.Fatal(err)
	}
	f := customerFixture{
		a: mustCreate(t, s, &crmv1.Customer{DisplayName: "上海浦东速递有限公司", City: "上海", Mobile: "13812345678", Phone: "021 6234 5678",
			Owner: "own", Custom: map[string]string{"channel": "电话"}}),
		b:    mustCreate(t, s, &crmv1.Customer{DisplayName: "浦东速递", City: "上海", Mobile: "13900139000", Owner: "someone"}),
		gone: mustCreate(t, s, &crmv1.Customer{DisplayName: "已删除", Owner: "someone"}),
	}
	ct, err := s.AddContact(ctx, connect.NewRequest(&crmv1.AddContactRequest{Parent: f.a.GetName(), Contact: &crmv1.Contact{DisplayName: "王经理", Mobile: "13700137000"}}))
	if err != nil {
		t.Fatal(err)
	}
	f.contact = ct.Msg.GetName()
	if _, err := s.DeleteCustomer(ctx, connect.NewRequest(&crmv1.DeleteCustomerRequest{Name: f.gone.GetName()})); err != nil {
		t.Fatal(err)
	}
	f.csv = []byte("客户名称,移动电话,来源\n杭州西湖茶庄,13600136000,网站\n浦东速递分公司,13900139000,\n坏行,123,\n")
	return f
}

// customerCalls is one call of every rpc, with good arguments.
func customerCalls(s *CustomerService, f customerFixture) map[string]func(ctx context.Context) error {
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	return map[string]func(ctx context.Context) error{
		"CreateCustomer": func(ctx context.Context) error {
			_, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{DisplayName: "新客户"}}))
			return err
		},
		"GetCustomer": func(ctx context.Context) error {
			_, err := s.GetCustomer(ctx, connect.NewRequest(&crmv1.GetCustomerRequest{Name: f.a.GetName()}))
			return err
		},
		"UpdateCustomer": func(ctx context.Context) error {
			_, err := s.UpdateCustomer(ctx, connect.NewRequest(&crmv1.UpdateCustomerRequest{Customer: &crmv1.Customer{Name: f.a.GetName(), City: "杭州"}, UpdateMask: mask("city")}))
			return err
		},
		"DeleteCustomer": func(ctx context.Context) error {
			_, err := s.DeleteCustomer(ctx, connect.NewRequest(&crmv1.DeleteCustomerRequest{Name: f.b.GetName()}))
			return err
		},
		"UndeleteCustomer": func(ctx context.Context) error {
			_, err := s.UndeleteCustomer(ctx, connect.NewRequest(&crmv1.UndeleteCustomerRequest{Name: f.gone.GetName()}))
			return err
		},
		"ListDeletedCustomers": func(ctx context.Context) error {
			_, err := s.ListDeletedCustomers(ctx, connect.NewRequest(&crmv1.ListDeletedCustomersRequest{}))
			return err
		},
		"ListCustomers": func(ctx context.Context) error {
			_, err := s.ListCustomers(ctx, connect.NewRequest(&crmv1.ListCustomersRequest{}))
			return err
		},
		"SearchCustomers": func(ctx context.Context) error {
			_, err := s.SearchCustomers(ctx, connect.NewRequest(&crmv1.SearchCustomersRequest{Query: "浦东"}))
			return err
		},
		"SuggestCustomers": func(ctx context.Context) error {
			_, err := s.SuggestCustomers(ctx, connect.NewRequest(&crmv1.SuggestCustomersRequest{Query: "浦东"}))
			return err
		},
		"LookupByPhone": func(ctx context.Context) error {
			_, err := s.LookupByPhone(ctx, connect.NewRequest(&crmv1.LookupByPhoneRequest{Phone: "13812345678"}))
			return err
		},
		"FindDuplicates": func(ctx context.Context) error {
			_, err := s.FindDuplicates(ctx, connect.NewRequest(&crmv1.FindDuplicatesRequest{Customer: &crmv1.Customer{DisplayName: "浦东速递"}}))
			return err
		},
		"MergeCustomers": func(ctx context.Context) error {
			_, err := s.MergeCustomers(ctx, connect.NewRequest(&crmv1.MergeCustomersRequest{Winner: f.a.GetName(), Loser: f.b.GetName()}))
			return err
		},
		"AddContact": func(ctx context.Context) error {
			_, err := s.AddContact(ctx, connect.NewRequest(&crmv1.AddContactRequest{Parent: f.a.GetName(), Contact: &crmv1.Contact{DisplayName: "李"}}))
			return err
		},
		"UpdateContact": func(ctx context.Context) error {
			_, err := s.UpdateContact(ctx, connect.NewRequest(&crmv1.UpdateContactRequest{Contact: &crmv1.Contact{Name: f.contact, Title: "总监"}, UpdateMask: mask("title")}))
			return err
		},
		"RemoveContact": func(ctx context.Context) error {
			_, err := s.RemoveContact(ctx, connect.NewRequest(&crmv1.RemoveContactRequest{Name: f.contact}))
			return err
		},
		"AddNote": func(ctx context.Context) error {
			_, err := s.AddNote(ctx, connect.NewRequest(&crmv1.AddNoteRequest{Parent: f.a.GetName(), Text: "来电"}))
			return err
		},
		"GetTimeline": func(ctx context.Context) error {
			_, err := s.GetTimeline(ctx, connect.NewRequest(&crmv1.GetTimelineRequest{Name: f.a.GetName()}))
			return err
		},
		"DefineCustomField": func(ctx context.Context) error {
			_, err := s.DefineCustomField(ctx, connect.NewRequest(&crmv1.DefineCustomFieldRequest{Field: &crmv1.CustomField{Key: "size", Label: "规模", Kind: crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_NUMBER}}))
			return err
		},
		"UpdateCustomField": func(ctx context.Context) error {
			_, err := s.UpdateCustomField(ctx, connect.NewRequest(&crmv1.UpdateCustomFieldRequest{Field: &crmv1.CustomField{Key: "channel", Label: "渠道"}, UpdateMask: mask("label")}))
			return err
		},
		"ListCustomFields": func(ctx context.Context) error {
			_, err := s.ListCustomFields(ctx, connect.NewRequest(&crmv1.ListCustomFieldsRequest{}))
			return err
		},
		"RetireCustomField": func(ctx context.Context) error {
			_, err := s.RetireCustomField(ctx, connect.NewRequest(&crmv1.RetireCustomFieldRequest{Name: "customFields/channel"}))
			return err
		},
		"PreviewImport": func(ctx context.Context) error {
			_, err := s.PreviewImport(ctx, connect.NewRequest(&crmv1.PreviewImportRequest{Content: f.csv, Format: crmv1.FileFormat_FILE_FORMAT_CSV}))
			return err
		},
		"CommitImport": func(ctx context.Context) error {
			_, err := s.CommitImport(ctx, connect.NewRequest(&crmv1.CommitImportRequest{Content: f.csv, Format: crmv1.FileFormat_FILE_FORMAT_CSV}))
			return err
		},
		"ExportCustomers": func(ctx context.Context) error {
			_, err := s.ExportCustomers(ctx, connect.NewRequest(&crmv1.ExportCustomersRequest{Format: crmv1.FileFormat_FILE_FORMAT_CSV}))
			return err
		},
	}
}

// Every rpc refuses a caller without its permission, and changes nothing;
// the same call succeeds for the administrator (so the refusal is about
// the permission, not the arguments).
func TestCustomerServiceRefusesCallersWithoutPermission(t *testing.T) {
	s, st, au := newCustomerService(t)
	f := newCustomerFixture(t, s)
	calls := customerCalls(s, f)
	methods := crmv1.File_branchline_crm_v1_customer_proto.Services().ByName("CustomerService").Methods()
	for i := range methods.Len() {
		if _, ok := calls[string(methods.Get(i).Name())]; !ok {
			t.Errorf("rpc %s is not tested", methods.Get(i).Name())
		}
	}
	needs := map[string]access.Perm{
		"CreateCustomer": access.CustomerWrite, "GetCustomer": access.CustomerRead, "UpdateCustomer": access.CustomerWrite,
		"DeleteCustomer": access.CustomerDelete, "UndeleteCustomer": access.CustomerDelete, "ListDeletedCustomers": access.CustomerDelete,
		"ListCustomers": access.CustomerRead, "SearchCustomers": access.CustomerRead, "SuggestCustomers": access.CustomerRead,
		"LookupByPhone": access.CustomerRead, "FindDuplicates": access.CustomerRead, "MergeCustomers": access.CustomerMerge,
		"AddContact": access.CustomerWrite, "UpdateContact": access.CustomerWrite, "RemoveContact": access.CustomerWrite,
		"AddNote": access.CustomerWrite, "GetTimeline": access.CustomerRead, "DefineCustomField": access.FieldAdmin,
		"UpdateCustomField": access.FieldAdmin, "ListCustomFields": access.CustomerRead, "RetireCustomField": access.FieldAdmin,
		"PreviewImport": access.CustomerImport, "CommitImport": access.CustomerImport, "ExportCustomers": access.CustomerExport,
	}
	before, audits := st.snapshot(), len(au.actions())
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			wantCustomerCode(t, call(asCustomerUser("nobody")), connect.CodePermissionDenied)
			wantCustomerCode(t, call(asCustomerUser("all-but-"+string(needs[name]))), connect.CodePermissionDenied)
			wantCustomerCode(t, call(context.Background()), connect.CodeUnauthenticated)
		})
	}
	if !maps.Equal(before, st.snapshot()) || len(au.actions()) != audits {
		t.Fatal("refused calls changed the store or the audit log")
	}
	for name := range calls {
		s2, _, _ := newCustomerService(t)
		f2 := newCustomerFixture(t, s2)
		if err := customerCalls(s2, f2)[name](asCustomerUser("admin")); err != nil {
			t.Errorf("%s as admin: %v", name, err)
		}
	}
}

// A reader without customer.phone sees numbers masked everywhere; one with
// it sees them whole; lookup by a full number works for both.
func TestCustomerServiceMasksPhones(t *testing.T) {
	s, _, au := newCustomerService(t)
	f := newCustomerFixture(t, s)
	for _, c := range []struct {
		user   string
		masked bool
	}{{"clerk", true}, {"admin", false}} {
		t.Run(c.user, func(t *testing.T) {
			ctx := asCustomerUser(c.user)
			mobile, phone, ctMobile := "+8613812345678", "+862162345678", "+8613700137000"
			if c.masked {
				mobile, phone, ctMobile = "138****5678", "021****5678", "137****7000"
			}
			got, err := s.GetCustomer(ctx, connect.NewRequest(&crmv1.GetCustomerRequest{Name: f.a.GetName()}))
			if err != nil {
				t.Fatal(err)
			}
			if got.Msg.GetMobile() != mobile || got.Msg.GetPhone() != phone || got.Msg.GetPhonesMasked() != c.masked ||
				got.Msg.GetContacts()[0].GetMobile() != ctMobile {
				t.Errorf("Get: mobile %q phone %q contact %q masked %v", got.Msg.GetMobile(), got.Msg.GetPhone(), got.Msg.GetContacts()[0].GetMobile(), got.Msg.GetPhonesMasked())
			}
			sr, err := s.SearchCustomers(ctx, connect.NewRequest(&crmv1.SearchCustomersRequest{Query: "5678"}))
			if err != nil || len(sr.Msg.GetCustomers()) != 1 || sr.Msg.GetCustomers()[0].GetMobile() != mobile {
				t.Errorf("Search: %v %v", sr, err)
			}
			lk, err := s.LookupByPhone(ctx, connect.NewRequest(&crmv1.LookupByPhoneRequest{Phone: "138 1234 5678"}))
			if err != nil || len(lk.Msg.GetCustomers()) != 1 || lk.Msg.GetCustomers()[0].GetMobile() != mobile {
				t.Errorf("Lookup with the full number: %v %v", lk, err)
			}
			sg, err := s.SuggestCustomers(ctx, connect.NewRequest(&crmv1.SuggestCustomersRequest{Query: "1234"}))
			if err != nil || len(sg.Msg.GetSuggestions()) != 1 || sg.Msg.GetSuggestions()[0].GetValue() != mobile {
				t.Errorf("Suggest: %v %v", sg, err)
			}
			for _, format := range []crmv1.FileFormat{crmv1.FileFormat_FILE_FORMAT_CSV, crmv1.FileFormat_FILE_FORMAT_XLSX} {
				ex, err := s.ExportCustomers(ctx, connect.NewRequest(&crmv1.ExportCustomersRequest{Format: format, Filters: []*crmv1.Filter{{Field: "city", Value: "上海"}}}))
				if err != nil {
					t.Fatal(err)
				}
				text := exportText(t, format, ex.Msg.GetContent())
				national := "138 1234 5678"
				if c.masked != strings.Contains(text, "138****5678") || c.masked == strings.Contains(text, national) || ex.Msg.GetRows() != 2 {
					t.Errorf("export %v (%d rows) masked %v:\n%s", format, ex.Msg.GetRows(), c.masked, text)
				}
			}
		})
	}
	var exports int
	for _, a := range au.actions() {
		if strings.HasSuffix(a, "customer.export") {
			exports++
		}
	}
	if exports != 4 {
		t.Errorf("audit log %v, want 4 exports", au.actions())
	}
}

func exportText(t *testing.T, format crmv1.FileFormat, content []byte) string {
	t.Helper()
	if format == crmv1.FileFormat_FILE_FORMAT_CSV {
		return string(content)
	}
	x, err := excelize.OpenReader(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := x.GetRows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}

// Invalid input is InvalidArgument naming the field, and changes nothing.
func TestCustomerServiceRefusesBadInput(t *testing.T) {
	s, st, _ := newCustomerService(t)
	f := newCustomerFixture(t, s)
	ctx := asCustomerUser("admin")
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	long := strings.Repeat("长", 2001)
	cases := []struct {
		name, field string
		call        func() error
	}{
		{"create: bad phone", "mobile", func() error {
			_, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{DisplayName: "甲", Mobile: "12345"}}))
			return err
		}},
		{"create: no name", "display_name", func() error {
			_, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{City: "上海"}}))
			return err
		}},
		{"create: oversized note", "note", func() error {
			_, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{DisplayName: "甲", Note: long}}))
			return err
		}},
		{"create: unknown custom field", "custom.colour", func() error {
			_, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{DisplayName: "甲", Custom: map[string]string{"colour": "red"}}}))
			return err
		}},
		{"update: bad choice", "custom.channel", func() error {
			_, err := s.UpdateCustomer(ctx, connect.NewRequest(&crmv1.UpdateCustomerRequest{Customer: &crmv1.Customer{Name: f.a.GetName(), Custom: map[string]string{"channel": "传真"}}, UpdateMask: mask("custom.channel")}))
			return err
		}},
		{"update: unknown path", "colour", func() error {
			_, err := s.UpdateCustomer(ctx, connect.NewRequest(&crmv1.UpdateCustomerRequest{Customer: &crmv1.Customer{Name: f.a.GetName()}, UpdateMask: mask("colour")}))
			return err
		}},
		{"update: masked number written back", "mobile", func() error {
			_, err := s.UpdateCustomer(ctx, connect.NewRequest(&crmv1.UpdateCustomerRequest{Customer: &crmv1.Customer{Name: f.a.GetName(), Mobile: "138****5678"}, UpdateMask: mask("mobile")}))
			return err
		}},
		{"get: bad name", "name", func() error {
			_, err := s.GetCustomer(ctx, connect.NewRequest(&crmv1.GetCustomerRequest{Name: "customer/x"}))
			return err
		}},
		{"merge into itself", "loser", func() error {
			_, err := s.MergeCustomers(ctx, connect.NewRequest(&crmv1.MergeCustomersRequest{Winner: f.a.GetName(), Loser: f.a.GetName()}))
			return err
		}},
		{"merge into a deleted customer", "winner", func() error {
			_, err := s.MergeCustomers(ctx, connect.NewRequest(&crmv1.MergeCustomersRequest{Winner: f.gone.GetName(), Loser: f.b.GetName()}))
			return err
		}},
		{"contact: bad birthday", "birthday", func() error {
			_, err := s.AddContact(ctx, connect.NewRequest(&crmv1.AddContactRequest{Parent: f.a.GetName(), Contact: &crmv1.Contact{DisplayName: "李", Birthday: "1990-02-30"}}))
			return err
		}},
		{"note too long", "text", func() error {
			_, err := s.AddNote(ctx, connect.NewRequest(&crmv1.AddNoteRequest{Parent: f.a.GetName(), Text: long}))
			return err
		}},
		{"search: unknown field", "colour", func() error {
			_, err := s.SearchCustomers(ctx, connect.NewRequest(&crmv1.SearchCustomersRequest{Filters: []*crmv1.Filter{{Field: "colour", Value: "red"}}}))
			return err
		}},
		{"suggest: oversized", "query", func() error {
			_, err := s.SuggestCustomers(ctx, connect.NewRequest(&crmv1.SuggestCustomersRequest{Query: long}))
			return err
		}},
		{"define: bad kind", "kind", func() error {
			_, err := s.DefineCustomField(ctx, connect.NewRequest(&crmv1.DefineCustomFieldRequest{Field: &crmv1.CustomField{Key: "k", Label: "k"}}))
			return err
		}},
		{"import: corrupt xlsx", "content", func() error {
			_, err := s.PreviewImport(ctx, connect.NewRequest(&crmv1.PreviewImportRequest{Content: []byte("PK\x03\x04 broken"), Format: crmv1.FileFormat_FILE_FORMAT_XLSX}))
			return err
		}},
		{"commit: corrupt xlsx", "content", func() error {
			_, err := s.CommitImport(ctx, connect.NewRequest(&crmv1.CommitImportRequest{Content: []byte("not a zip"), Format: crmv1.FileFormat_FILE_FORMAT_XLSX}))
			return err
		}},
		{"import: no format", "format", func() error {
			_, err := s.PreviewImport(ctx, connect.NewRequest(&crmv1.PreviewImportRequest{Content: f.csv}))
			return err
		}},
		{"export: bad operator", "city", func() error {
			_, err := s.ExportCustomers(ctx, connect.NewRequest(&crmv1.ExportCustomersRequest{Format: crmv1.FileFormat_FILE_FORMAT_CSV, Filters: []*crmv1.Filter{{Field: "city", Operator: 9}}}))
			return err
		}},
	}
	before := st.snapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			wantCustomerCode(t, err, connect.CodeInvalidArgument)
			var ce *connect.Error
			errors.As(err, &ce)
			var found bool
			for _, d := range ce.Details() {
				if m, derr := d.Value(); derr == nil {
					if br, ok := m.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 {
						found = br.GetFieldViolations()[0].GetField() == c.field && br.GetFieldViolations()[0].GetReason() != ""
					}
				}
			}
			if !found {
				t.Errorf("no BadRequest detail naming %q: %v", c.field, err)
			}
		})
	}
	if !maps.Equal(before, st.snapshot()) {
		t.Fatal("refused calls changed the store")
	}
}

// Data scope: a user who may see only their own customers sees and
// changes only those.
func TestCustomerServiceScope(t *testing.T) {
	s, st, _ := newCustomerService(t)
	f := newCustomerFixture(t, s)
	ctx := asCustomerUser("own")
	if _, err := s.GetCustomer(ctx, connect.NewRequest(&crmv1.GetCustomerRequest{Name: f.a.GetName()})); err != nil {
		t.Fatalf("own customer: %v", err)
	}
	before := st.snapshot()
	_, err := s.GetCustomer(ctx, connect.NewRequest(&crmv1.GetCustomerRequest{Name: f.b.GetName()}))
	wantCustomerCode(t, err, connect.CodePermissionDenied)
	_, err = s.UpdateCustomer(ctx, connect.NewRequest(&crmv1.UpdateCustomerRequest{Customer: &crmv1.Customer{Name: f.b.GetName(), City: "杭州"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"city"}}}))
	wantCustomerCode(t, err, connect.CodePermissionDenied)
	_, err = s.UpdateCustomer(ctx, connect.NewRequest(&crmv1.UpdateCustomerRequest{Customer: &crmv1.Customer{Name: f.a.GetName(), Owner: "someone"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}}))
	wantCustomerCode(t, err, connect.CodePermissionDenied)
	_, err = s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{DisplayName: "别人的", Owner: "someone"}}))
	wantCustomerCode(t, err, connect.CodePermissionDenied)
	if !maps.Equal(before, st.snapshot()) {
		t.Fatal("refused calls changed the store")
	}
	list, err := s.SearchCustomers(ctx, connect.NewRequest(&crmv1.SearchCustomersRequest{Query: "浦东"}))
	if err != nil || len(list.Msg.GetCustomers()) != 1 || list.Msg.GetCustomers()[0].GetName() != f.a.GetName() {
		t.Fatalf("search in own scope: %v %v", list, err)
	}
	// Own customers show phones (PhoneView for own customers).
	if list.Msg.GetCustomers()[0].GetPhonesMasked() {
		t.Error("own customer's phones masked")
	}
	created, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{DisplayName: "我的新客户"}}))
	if err != nil || created.Msg.GetOwner() != "own" {
		t.Fatalf("create in own scope: %v %v", created, err)
	}
}

// Duplicates stop a create unless allowed; merge, delete, undelete, import
// and export are audited; a merged customer's name leads to the winner.
func TestCustomerServiceWorkflow(t *testing.T) {
	s, _, au := newCustomerService(t)
	f := newCustomerFixture(t, s)
	ctx := asCustomerUser("admin")

	_, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{Customer: &crmv1.Customer{DisplayName: "上海浦东速递公司", City: "上海"}}))
	wantCustomerCode(t, err, connect.CodeAlreadyExists)
	var ce *connect.Error
	errors.As(err, &ce)
	var dups *crmv1.FindDuplicatesResponse
	for _, d := range ce.Details() {
		if m, derr := d.Value(); derr == nil {
			dups, _ = m.(*crmv1.FindDuplicatesResponse)
		}
	}
	if dups == nil || len(dups.GetDuplicates()) != 1 || dups.GetDuplicates()[0].GetCustomer().GetName() != f.a.GetName() {
		t.Fatalf("duplicate detail %v", dups)
	}
	if _, err := s.CreateCustomer(ctx, connect.NewRequest(&crmv1.CreateCustomerRequest{AllowDuplicate: true, Customer: &crmv1.Customer{DisplayName: "上海浦东速递公司", City: "上海"}})); err != nil {
		t.Fatal(err)
	}

	merged, err := s.MergeCustomers(ctx, connect.NewRequest(&crmv1.MergeCustomersRequest{Winner: f.a.GetName(), Loser: f.b.GetName(), Fields: map[string]string{"mobile": "13900139000"}}))
	if err != nil {
		t.Fatal(err)
	}
	if merged.Msg.GetCustomer().GetMobile() != "+8613900139000" || merged.Msg.GetLoser() != f.b.GetName() {
		t.Fatalf("merge result %v", merged.Msg)
	}
	got, err := s.GetCustomer(ctx, connect.NewRequest(&crmv1.GetCustomerRequest{Name: f.b.GetName()}))
	if err != nil || got.Msg.GetName() != f.a.GetName() || got.Msg.GetMergedFrom() != f.b.GetName() {
		t.Fatalf("Get of the loser: %v %v", got, err)
	}
	if _, err := s.DeleteCustomer(ctx, connect.NewRequest(&crmv1.DeleteCustomerRequest{Name: f.a.GetName()})); err != nil {
		t.Fatal(err)
	}
	bin, err := s.ListDeletedCustomers(ctx, connect.NewRequest(&crmv1.ListDeletedCustomersRequest{PageSize: 1}))
	if err != nil || len(bin.Msg.GetCustomers()) != 1 || bin.Msg.GetNextPageToken() == "" || bin.Msg.GetCustomers()[0].GetDeleteUser() != "admin" {
		t.Fatalf("recycle bin page: %v %v", bin, err)
	}
	if _, err := s.UndeleteCustomer(ctx, connect.NewRequest(&crmv1.UndeleteCustomerRequest{Name: f.a.GetName()})); err != nil {
		t.Fatal(err)
	}
	tl, err := s.GetTimeline(ctx, connect.NewRequest(&crmv1.GetTimelineRequest{Name: f.a.GetName(), NewestFirst: true}))
	if err != nil || tl.Msg.GetEntries()[0].GetKind() != crm.TimelineRestored {
		t.Fatalf("timeline %v %v", tl, err)
	}

	pv, err := s.PreviewImport(ctx, connect.NewRequest(&crmv1.PreviewImportRequest{Content: f.csv, Format: crmv1.FileFormat_FILE_FORMAT_CSV}))
	if err != nil {
		t.Fatal(err)
	}
	if pv.Msg.GetValidRows() != 1 || pv.Msg.GetDuplicateRows() != 1 || pv.Msg.GetErrorRows() != 1 {
		t.Fatalf("preview %v", pv.Msg)
	}
	cm, err := s.CommitImport(ctx, connect.NewRequest(&crmv1.CommitImportRequest{Content: f.csv, Format: crmv1.FileFormat_FILE_FORMAT_CSV, ImportAnyway: []int32{3}}))
	if err != nil || cm.Msg.GetImported() != 2 || cm.Msg.GetSkipped() != 1 {
		t.Fatalf("commit %v %v", cm, err)
	}
	// Contact edits are audited too (issue 15, part 4).
	want := []string{"admin customer.contact_add", "admin customer.delete", "admin customer.merge", "admin customer.delete", "admin customer.undelete", "admin customer.import"}
	if got := au.actions(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("audit %v, want %v", got, want)
	}
}
