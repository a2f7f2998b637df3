package pickup

import (
	"fmt"
	"slices"
	"strings"

	"branchline/crm"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
)

// Sortable columns of the pickup list.
const (
	SortEntered     = "entered"
	SortNumber      = "number"
	SortSender      = "sender"
	SortDestination = "destination"
	SortWeight      = "weight"
	SortPrice       = "price"
	SortCourier     = "courier"
	SortStatus      = "status"
)

// SortColumns lists the columns a pickup list can be sorted by, the
// default (newest first) first.
var SortColumns = []string{SortEntered, SortNumber, SortSender, SortDestination, SortWeight, SortPrice, SortCourier, SortStatus}

// Sorted asks for a page of the pickup list: the pickups Filter selects
// (its After and Limit are not used) whose waybill, number, sender's or
// receiver's name, company or phone contain Text, in the order of Sort
// (Desc: reversed), a page at a time (see keyset.Request).
type Sorted struct {
	Filter Filter
	Text   string
	keyset.Order
	Limit int
}

// SortedPage is a page of the pickup list, the number of pickups in the
// whole list and the cursors of the pages around it.
type SortedPage struct {
	Pickups    []*Pickup
	Total      int
	Prev, Next string
}

// SortedList reads a page of the pickup list (an unknown column sorts by
// the time of booking). Pickups are a branch's, a courier's or a day's,
// so the list reads every pickup the filter's index gives (the last 7
// days of a branch without a day or courier, as List does), keeps those
// that match, counts them and orders them in memory: its cost grows with
// the pickups of the range, not with the store.
func SortedList(views replication.Tx, s Sorted) (SortedPage, error) {
	ids, err := candidates(views, s.Filter)
	if err != nil {
		return SortedPage{}, err
	}
	text := crm.Fold(s.Text)
	digits := crm.Digits(text)
	var found []*Pickup
	for _, id := range ids {
		ok, err := s.Filter.holds(views, id)
		if err != nil {
			return SortedPage{}, err
		}
		if !ok {
			continue
		}
		p, err := Get(views, id)
		if err != nil {
			return SortedPage{}, err
		}
		if text == "" || p.contains(text, digits) {
			found = append(found, p)
		}
	}
	f, err := keyset.InMemory(found, func(p *Pickup) []byte { return keyset.VarKey(p.sortValue(s.Sort), p.ID) }, s.Order, s.Limit)
	if err != nil {
		return SortedPage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return SortedPage{Pickups: f.Items, Total: f.Total, Prev: f.Prev, Next: f.Next}, nil
}

// contains reports whether the pickup's waybill, number, parties' names
// or companies contain text (folded), or its parties' phones the digits.
func (p *Pickup) contains(text, digits string) bool {
	for _, v := range []string{p.Waybill, p.Number, p.Sender.Name, p.Sender.Company, p.Receiver.Name, p.Receiver.Company} {
		if strings.Contains(crm.Fold(v), text) {
			return true
		}
	}
	if digits == "" || strings.Trim(text, "0123456789+-()") != "" {
		return false
	}
	for _, ph := range []string{p.Sender.Phone, p.Receiver.Phone} {
		if ph != "" && strings.Contains(crm.Digits(crm.FormatPhone(ph, crm.DefaultRegion)), digits) {
			return true
		}
	}
	return false
}

// sortValue is what the pickup is ordered by in column col.
func (p *Pickup) sortValue(col string) []byte {
	switch col {
	case SortNumber:
		return []byte(p.Number)
	case SortSender:
		return keyset.Text(p.Sender.Name)
	case SortDestination:
		return keyset.Text(p.Destination)
	case SortWeight:
		return keyset.Int(int64(p.WeightGrams))
	case SortPrice:
		return keyset.Int(int64(p.Price))
	case SortCourier:
		return keyset.Text(p.Courier)
	case SortStatus:
		return fmt.Appendf(nil, "%02d", slices.Index(Statuses, p.Status)+1)
	}
	return keyset.Int(p.Entered.UnixMilli())
}
