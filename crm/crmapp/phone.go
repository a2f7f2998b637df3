package crmapp

import (
	"branchline/access"
	"branchline/app"
	"branchline/crm"
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
