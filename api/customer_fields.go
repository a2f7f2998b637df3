package api

import (
	"context"
	"strings"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

const customFieldPrefix = "customFields/"

var customKinds = map[crmv1.CustomFieldKind]string{
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_TEXT:   crm.CustomText,
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_NUMBER: crm.CustomNumber,
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_DATE:   crm.CustomDate,
	crmv1.CustomFieldKind_CUSTOM_FIELD_KIND_CHOICE: crm.CustomChoice,
}

func customFieldToProto(d crm.CustomField) *crmv1.CustomField {
	out := &crmv1.CustomField{Name: customFieldPrefix + d.Key, Key: d.Key, Label: d.Label, Options: d.Options, Retired: d.Retired}
	for k, v := range customKinds {
		if v == d.Kind {
			out.Kind = k
		}
	}
	return out
}

func customFieldFromProto(p *crmv1.CustomField) crm.CustomField {
	key := p.GetKey()
	if key == "" {
		key = strings.TrimPrefix(p.GetName(), customFieldPrefix)
	}
	return crm.CustomField{Key: key, Label: p.GetLabel(), Kind: customKinds[p.GetKind()], Options: p.GetOptions()}
}

// customFieldChange runs a change of a definition and answers with it.
func (s *CustomerService) customFieldChange(ctx context.Context, key string, cmd replication.Command) (*connect.Response[crmv1.CustomField], error) {
	if _, err := s.exec(ctx, cmd); err != nil {
		return nil, Error(s.Log, err)
	}
	var out *crmv1.CustomField
	err := s.view(func(views replication.Tx) error {
		d, err := crm.GetCustomField(views, key)
		out = customFieldToProto(d)
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// DefineCustomField implements CustomerService.DefineCustomField.
func (s *CustomerService) DefineCustomField(ctx context.Context, req *connect.Request[crmv1.DefineCustomFieldRequest]) (*connect.Response[crmv1.CustomField], error) {
	if _, err := s.require(ctx, access.FieldAdmin); err != nil {
		return nil, err
	}
	if req.Msg.GetField() == nil {
		return nil, Error(s.Log, fault.Invalidf("field", "required", "is required"))
	}
	d := customFieldFromProto(req.Msg.GetField())
	return s.customFieldChange(ctx, strings.TrimSpace(d.Key), func(views replication.Tx) ([]replication.Draft, error) {
		return oneDraft(crm.DefineCustomField(views, d))
	})
}

// UpdateCustomField implements CustomerService.UpdateCustomField.
func (s *CustomerService) UpdateCustomField(ctx context.Context, req *connect.Request[crmv1.UpdateCustomFieldRequest]) (*connect.Response[crmv1.CustomField], error) {
	if _, err := s.require(ctx, access.FieldAdmin); err != nil {
		return nil, err
	}
	if req.Msg.GetField() == nil {
		return nil, Error(s.Log, fault.Invalidf("field", "required", "is required"))
	}
	d := customFieldFromProto(req.Msg.GetField())
	return s.customFieldChange(ctx, d.Key, func(views replication.Tx) ([]replication.Draft, error) {
		return oneDraft(crm.UpdateCustomField(views, d, req.Msg.GetUpdateMask().GetPaths()))
	})
}

// RetireCustomField implements CustomerService.RetireCustomField.
func (s *CustomerService) RetireCustomField(ctx context.Context, req *connect.Request[crmv1.RetireCustomFieldRequest]) (*connect.Response[crmv1.CustomField], error) {
	if _, err := s.require(ctx, access.FieldAdmin); err != nil {
		return nil, err
	}
	key, ok := strings.CutPrefix(req.Msg.GetName(), customFieldPrefix)
	if !ok {
		return nil, Error(s.Log, fault.Invalidf("name", "bad_name", "%q is not a custom field name (customFields/{key})", req.Msg.GetName()))
	}
	return s.customFieldChange(ctx, key, func(views replication.Tx) ([]replication.Draft, error) {
		return oneDraft(crm.RetireCustomField(views, key))
	})
}

// ListCustomFields implements CustomerService.ListCustomFields.
func (s *CustomerService) ListCustomFields(ctx context.Context, req *connect.Request[crmv1.ListCustomFieldsRequest]) (*connect.Response[crmv1.ListCustomFieldsResponse], error) {
	if _, err := s.require(ctx, access.CustomerRead); err != nil {
		return nil, err
	}
	resp := &crmv1.ListCustomFieldsResponse{}
	err := s.view(func(views replication.Tx) error {
		defs, err := crm.CustomFields(views)
		for _, d := range defs {
			if !d.Retired || req.Msg.GetShowRetired() {
				resp.Fields = append(resp.Fields, customFieldToProto(d))
			}
		}
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}
