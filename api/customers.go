package api

import (
	"context"

	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/replication"
)

// Store is what the node's services need of its event store.
type Store interface {
	// Exec runs a command and durably records the events it makes.
	Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error)
	// View reads the views in a consistent snapshot.
	View(fn func(views replication.Tx) error) error
}

// CustomerService implements branchline.crm.v1.CustomerService on a node.
type CustomerService struct {
	Store Store
	IDs   *replication.IDs
	Log   *slog.Logger
}

var _ crmv1connect.CustomerServiceHandler = (*CustomerService)(nil)

const customerPrefix = "customers/"

// The proto Customer has one string field per crm.Field, of the same name;
// these helpers copy between them by reflection so that a field added to
// both needs no code here.
var customerDesc = (&crmv1.Customer{}).ProtoReflect().Descriptor()

func protoField(name string) protoreflect.FieldDescriptor {
	return customerDesc.Fields().ByName(protoreflect.Name(name))
}

func customerToProto(c *crm.Customer) *crmv1.Customer {
	out := &crmv1.Customer{
		Name:       customerPrefix + c.ID,
		Origin:     c.Origin,
		CreateTime: timestamppb.New(c.Created.Time()),
		UpdateTime: timestamppb.New(c.Updated.Time()),
	}
	m := out.ProtoReflect()
	for _, f := range crm.Fields {
		v := c.Get(f.Name)
		if f.Name == "parent" && v != "" {
			v = customerPrefix + v
		}
		if fd := protoField(f.Name); fd != nil && v != "" {
			m.Set(fd, protoreflect.ValueOfString(v))
		}
	}
	return out
}

// fieldsFromProto reads the named fields of a proto customer.
func fieldsFromProto(c *crmv1.Customer, names []string) (map[string]string, error) {
	m := c.ProtoReflect()
	out := make(map[string]string, len(names))
	for _, n := range names {
		fd := protoField(n)
		if _, ok := crm.FieldByName(n); !ok || fd == nil {
			return nil, fault.Invalidf(n, "unknown_field", "no such customer field")
		}
		v := m.Get(fd).String()
		if n == "parent" {
			v = strings.TrimPrefix(v, customerPrefix)
		}
		out[n] = v
	}
	return out, nil
}

// setFields lists the fields of a proto customer that are not empty.
func setFields(c *crmv1.Customer) []string {
	var names []string
	m := c.ProtoReflect()
	for _, f := range crm.Fields {
		if fd := protoField(f.Name); fd != nil && m.Has(fd) {
			names = append(names, f.Name)
		}
	}
	return names
}

func customerID(name string) (string, error) {
	id, ok := strings.CutPrefix(name, customerPrefix)
	if !ok || !replication.ValidULID(id) {
		return "", fault.Invalidf("name", "bad_name", "%q is not a customer name (customers/{id})", name)
	}
	return id, nil
}

func actor(ctx context.Context) string {
	if p, ok := PrincipalFrom(ctx); ok {
		return p.User
	}
	return ""
}

// CreateCustomer implements CustomerService.CreateCustomer.
func (s *CustomerService) CreateCustomer(ctx context.Context, req *connect.Request[crmv1.CreateCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	in := req.Msg.GetCustomer()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("customer", "required", "is required"))
	}
	fields, err := fieldsFromProto(in, setFields(in))
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if _, ok := fields["display_name"]; !ok {
		fields["display_name"] = "" // so that the domain reports it missing
	}
	id := s.IDs.New(time.Now())
	if _, err := s.Store.Exec(ctx, actor(ctx), func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(views, id, fields)
		return []replication.Draft{d}, err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.get(id)
}

func (s *CustomerService) get(id string) (*connect.Response[crmv1.Customer], error) {
	var c *crm.Customer
	err := s.Store.View(func(views replication.Tx) error {
		var err error
		c, err = crm.GetCustomer(views, id)
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(customerToProto(c)), nil
}

// GetCustomer implements CustomerService.GetCustomer.
func (s *CustomerService) GetCustomer(_ context.Context, req *connect.Request[crmv1.GetCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	id, err := customerID(req.Msg.GetName())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.get(id)
}

// UpdateCustomer implements CustomerService.UpdateCustomer.
func (s *CustomerService) UpdateCustomer(ctx context.Context, req *connect.Request[crmv1.UpdateCustomerRequest]) (*connect.Response[crmv1.Customer], error) {
	in := req.Msg.GetCustomer()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("customer", "required", "is required"))
	}
	id, err := customerID(in.GetName())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, Error(s.Log, fault.Invalidf("update_mask", "required", "names no field"))
	}
	fields, err := fieldsFromProto(in, paths)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if _, err := s.Store.Exec(ctx, actor(ctx), func(views replication.Tx) ([]replication.Draft, error) {
		d, ok, err := crm.UpdateCustomer(views, id, fields)
		if err != nil || !ok {
			return nil, err
		}
		return []replication.Draft{d}, nil
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.get(id)
}

// MaxPageSize bounds list pages.
const MaxPageSize = 500

// ListCustomers implements CustomerService.ListCustomers.
func (s *CustomerService) ListCustomers(_ context.Context, req *connect.Request[crmv1.ListCustomersRequest]) (*connect.Response[crmv1.ListCustomersResponse], error) {
	size := int(req.Msg.GetPageSize())
	switch {
	case size < 0:
		return nil, Error(s.Log, fault.Invalidf("page_size", "negative", "must not be negative"))
	case size == 0:
		size = 50
	case size > MaxPageSize:
		size = MaxPageSize
	}
	after := req.Msg.GetPageToken()
	if after != "" && !replication.ValidULID(after) {
		return nil, Error(s.Log, fault.Invalidf("page_token", "bad_token", "not a page token of this list"))
	}
	var cs []*crm.Customer
	err := s.Store.View(func(views replication.Tx) error {
		var err error
		cs, err = crm.ListCustomers(views, after, size+1)
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &crmv1.ListCustomersResponse{}
	if len(cs) > size {
		cs = cs[:size]
		resp.NextPageToken = cs[size-1].ID
	}
	for _, c := range cs {
		resp.Customers = append(resp.Customers, customerToProto(c))
	}
	return connect.NewResponse(resp), nil
}

// LookupByPhone implements CustomerService.LookupByPhone.
func (s *CustomerService) LookupByPhone(_ context.Context, req *connect.Request[crmv1.LookupByPhoneRequest]) (*connect.Response[crmv1.LookupByPhoneResponse], error) {
	var cs []*crm.Customer
	err := s.Store.View(func(views replication.Tx) error {
		var err error
		cs, err = crm.LookupByPhone(views, req.Msg.GetPhone())
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &crmv1.LookupByPhoneResponse{}
	for _, c := range cs {
		resp.Customers = append(resp.Customers, customerToProto(c))
	}
	return connect.NewResponse(resp), nil
}
