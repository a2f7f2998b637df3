package api

import (
	"branchline/access"
	"branchline/crm"
	"branchline/telephony"
)

// Phone numbers as a reader may see them (号码加密): whole for holders of
// access.PhoneView, masked (138****5678) for others, in every answer — a
// customer's fields, call records, callbacks, the live board, the screen
// pop, the blacklist. A customer's numbers follow the permission's data
// scope on that customer (customerView); a number on no customer record
// has no owner to scope by, so any scope of the permission shows it.

// showPhone is v, masked when masked is set.
func showPhone(v string, masked bool) string {
	if masked && v != "" {
		return crm.MaskPhone(v)
	}
	return v
}

// phoneFor is number as g's holder may see it, and whether it is masked.
func phoneFor(g *access.Grant, number string) (string, bool) {
	masked := number != "" && !g.Can(access.PhoneView)
	return showPhone(number, masked), masked
}

// callNumbers are a call's caller and did as g's holder may see them: the
// outside party's number (telephony.Party) masked unless they may see
// phone numbers; extensions and the company's own numbers stay.
func callNumbers(g *access.Grant, direction, caller, did string) (string, string, bool) {
	shown, masked := phoneFor(g, telephony.Party(direction, caller, did))
	if !masked {
		return caller, did, false
	}
	if direction == telephony.Inbound {
		return shown, did, true
	}
	return caller, shown, true
}
