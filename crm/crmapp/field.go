package crmapp

import (
	"context"
	"slices"
	"strings"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
)

// Custom field definitions (自定义字段): defined, changed and retired by
// holders of access.FieldAdmin, read by everyone who reads customers.

// fieldAfter runs cmd and answers with definition key after it.
func (s *Customers) fieldAfter(ctx context.Context, c app.Caller, key string, cmd replication.Command) (crm.CustomField, error) {
	if _, err := s.Store.Exec(ctx, c.User, cmd); err != nil {
		return crm.CustomField{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (crm.CustomField, error) { return crm.GetCustomField(views, key) })
}

// DefineField defines a custom field (Key, Label, Kind, Options), or
// reinstates a retired one of the same kind.
func (s *Customers) DefineField(ctx context.Context, c app.Caller, d crm.CustomField) (crm.CustomField, error) {
	if err := c.Require(access.FieldAdmin); err != nil {
		return crm.CustomField{}, err
	}
	d.Key = strings.TrimSpace(d.Key)
	return s.fieldAfter(ctx, c, d.Key, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(crm.DefineCustomField(views, d))
	})
}

// FieldUpdate changes a definition's label and options, as Paths name
// them ("label", "options"). A path whose value is the current one is
// left out.
type FieldUpdate struct {
	Key     string
	Label   string
	Options []string
	Paths   []string
}

// UpdateField changes a definition; it reports whether anything changed.
func (s *Customers) UpdateField(ctx context.Context, c app.Caller, req FieldUpdate) (crm.CustomField, bool, error) {
	if err := c.Require(access.FieldAdmin); err != nil {
		return crm.CustomField{}, false, err
	}
	if len(req.Paths) == 0 {
		return crm.CustomField{}, false, fault.Invalidf("update_mask", "required", "names no field")
	}
	changed := false
	out, err := s.fieldAfter(ctx, c, req.Key, func(views replication.Tx) ([]replication.Draft, error) {
		cur, err := crm.GetCustomField(views, req.Key)
		if err != nil {
			return nil, err
		}
		var paths []string
		for _, p := range req.Paths {
			same := p == "label" && req.Label == cur.Label || p == "options" && slices.Equal(req.Options, cur.Options)
			if !same {
				paths = append(paths, p)
			}
		}
		if len(paths) == 0 {
			return nil, nil
		}
		changed = true
		return app.One(crm.UpdateCustomField(views, crm.CustomField{Key: req.Key, Label: req.Label, Options: req.Options}, paths))
	})
	return out, changed, err
}

// RetireField retires a definition: no longer offered or shown; values
// stay.
func (s *Customers) RetireField(ctx context.Context, c app.Caller, key string) (crm.CustomField, error) {
	if err := c.Require(access.FieldAdmin); err != nil {
		return crm.CustomField{}, err
	}
	return s.fieldAfter(ctx, c, key, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(crm.RetireCustomField(views, key))
	})
}

// Fields lists the custom field definitions in key order, the retired
// ones too when retired is set.
func (s *Customers) Fields(_ context.Context, c app.Caller, retired bool) ([]crm.CustomField, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, err
	}
	return app.Read(s.Store, func(views replication.Tx) ([]crm.CustomField, error) {
		defs, err := crm.CustomFields(views)
		return slices.DeleteFunc(defs, func(d crm.CustomField) bool { return d.Retired && !retired }), err
	})
}
