package crmapp

import (
	"fmt"
	"maps"
	"slices"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
)

// Phone numbers as a reader may see them (号码加密): whole for holders of
// access.PhoneView, masked (138****5678) for others, in every result — a
// customer's fields, call records, callbacks, the live board, the screen
// pop, the blacklist. A customer's numbers follow the permission's data
// scope on that customer; a number on no customer record has no owner to
// scope by, so any scope of the permission shows it.

// ShowPhone is v, masked when masked is set.
func ShowPhone(v string, masked bool) string {
	if masked && v != "" {
		return crm.MaskPhone(v)
	}
	return v
}

// PhoneFor is number as c may see it, and whether it is masked.
func PhoneFor(c app.Caller, number string) (string, bool) {
	masked := number != "" && !c.Can(access.PhoneView)
	return ShowPhone(number, masked), masked
}

// CustomerPhones returns the phone numbers of customer id and of its
// contacts as stored (E.164, each once, the customer's own first), for
// a use case that looks things up by them without showing them — the
// customer's blacklist status, its calls and callbacks — and whether c
// sees the customer's numbers masked. It needs c's CustomerRead scope on
// the customer.
func CustomerPhones(views replication.Tx, c app.Caller, id string) (numbers []string, masked bool, err error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, false, err
	}
	if err := checkID("customer", id); err != nil {
		return nil, false, err
	}
	cu, err := crm.GetCustomer(views, id)
	if err != nil {
		return nil, false, err
	}
	if !reaches(c, access.CustomerRead, cu) {
		return nil, false, fmt.Errorf("%w: customer %s is outside your data scope", fault.ErrDenied, cu.ID)
	}
	add := func(fields map[string]string, names ...string) {
		for _, n := range names {
			if v := fields[n]; v != "" && !slices.Contains(numbers, v) {
				numbers = append(numbers, v)
			}
		}
	}
	add(cu.Fields, "mobile", "phone", "finance_phone")
	contacts, err := crm.Contacts(views, cu.ID)
	if err != nil {
		return nil, false, err
	}
	for _, ct := range contacts {
		for _, name := range slices.Sorted(maps.Keys(ct.Fields)) {
			if crm.IsPhoneField(name) {
				add(ct.Fields, name)
			}
		}
	}
	return numbers, !reaches(c, access.PhoneView, cu), nil
}
