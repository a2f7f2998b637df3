package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
)

const customFieldPrefix = "customFields/"

var customKinds = map[crmv1.CustomFieldKind]string{
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_TEXT:   crm.CustomText,
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_NUMBER: crm.CustomNumber,
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_DATE:   crm.CustomDate,
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_CHOICE: crm.CustomChoice,
}

func customFieldPB(d crm.CustomField) *crmv1.CustomField {
	out := &crmv1.CustomField{Name: customFieldPrefix + d.Key, Key: d.Key, Label: d.Label, Options: d.Options, Retired: d.Retired}
	for k, v := range customKinds {
		if v == d.Kind {
			out.Kind = k
		}
	}
	return out
}

func customFieldOf(p *crmv1.CustomField) crm.CustomField {
	key := p.GetKey()
	if key == "" {
		key = nameID(customFieldPrefix, p.GetName())
	}
	return crm.CustomField{Key: key, Label: p.GetLabel(), Kind: customKinds[p.GetKind()], Options: p.GetOptions()}
}

// DefineCustomField implements CustomerService.DefineCustomField.
func (s *CustomerService) DefineCustomField(ctx context.Context, req *connect.Request[crmv1.DefineCustomFieldRequest]) (*connect.Response[crmv1.CustomField], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.DefineCustomFieldRequest) (*crmv1.CustomField, error) {
		return pb(customFieldPB)(s.App.DefineField(ctx, c, customFieldOf(m.GetField())))
	})
}

// UpdateCustomField implements CustomerService.UpdateCustomField.
func (s *CustomerService) UpdateCustomField(ctx context.Context, req *connect.Request[crmv1.UpdateCustomFieldRequest]) (*connect.Response[crmv1.CustomField], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.UpdateCustomFieldRequest) (*crmv1.CustomField, error) {
		d := customFieldOf(m.GetField())
		out, _, err := s.App.UpdateField(ctx, c, crmapp.FieldUpdate{Key: d.Key, Label: d.Label, Options: d.Options, Paths: m.GetUpdateMask().GetPaths()})
		return pb(customFieldPB)(out, err)
	})
}

// RetireCustomField implements CustomerService.RetireCustomField.
func (s *CustomerService) RetireCustomField(ctx context.Context, req *connect.Request[crmv1.RetireCustomFieldRequest]) (*connect.Response[crmv1.CustomField], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.RetireCustomFieldRequest) (*crmv1.CustomField, error) {
		return pb(customFieldPB)(s.App.RetireField(ctx, c, nameID(customFieldPrefix, m.GetName())))
	})
}

// ListCustomFields implements CustomerService.ListCustomFields.
func (s *CustomerService) ListCustomFields(ctx context.Context, req *connect.Request[crmv1.ListCustomFieldsRequest]) (*connect.Response[crmv1.ListCustomFieldsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.ListCustomFieldsRequest) (*crmv1.ListCustomFieldsResponse, error) {
		return pb(func(defs []crm.CustomField) *crmv1.ListCustomFieldsResponse {
			return &crmv1.ListCustomFieldsResponse{Fields: each(defs, customFieldPB)}
		})(s.App.Fields(ctx, c, m.GetShowRetired()))
	})
}
