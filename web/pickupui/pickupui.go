// Package pickupui is the pickup and dispatch pages of the web UI: booking
// (叫件), the pickup list and page, dispatch (zones and couriers), rate
// plans, accounts and statements, reports, tracking and the courier's
// phone page — thin translations onto the use cases of
// crm/pickup/pickupapp as the signed-in user. At a hub, head office keeps
// the company-wide zones and tariffs here (HeadOffice).
package pickupui

import (
	"embed"
	"encoding/json"

	"branchline/access"
	"branchline/crm/crmapp"
	"branchline/crm/pickup/pickupapp"
	"branchline/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Config is what the pickup pages call.
type Config struct {
	Pickups *pickupapp.Pickups
	// Customers names the customers of pickups and accounts; nil: they
	// show by id.
	Customers *crmapp.Customers
	// HeadOffice serves only the company-wide zones and tariffs, as a hub
	// does.
	HeadOffice bool
}

// Pages are the pickup pages.
type Pages struct {
	*web.Server
	cfg Config
}

// New returns the pickup pages, to mount on a web.Server.
func New(cfg Config) *Pages { return &Pages{cfg: cfg} }

// Permissions of the pickup pages, as the use cases check them.
var (
	pickupReaders = pickupapp.Readers
	pickupViewers = pickupapp.Viewers
)

// pickupsTopic is the broker topic of pickup changes: the courier page and
// the agents' pickup list re-read what they show when it fires.
const pickupsTopic = "pickups"

// Mount implements web.Pages.
func (s *Pages) Mount(k *web.Server) error {
	s.Server = k
	if err := k.Templates(templateFS, "courier"); err != nil {
		return err
	}
	dispatch := []access.Perm{access.PickupDispatch}
	finance := []access.Perm{access.FinanceManage}
	s.Page("/pickups/zones", s.zoneList, dispatch...)
	s.Action("/pickups/zones", s.zoneSet, dispatch...)
	s.Action("/pickups/zones/{id}/remove", s.zoneRemove, dispatch...)
	s.Page("/pickups/rates", s.ratePlans, finance...)
	s.Action("/pickups/rates", s.ratePlanSet, finance...)
	s.Action("/pickups/rates/tiers", s.rateTiersSet, finance...)
	if s.cfg.HeadOffice {
		return nil
	}
	k.Enable("pickups")
	k.Topics(func(g *access.Grant) []string {
		if web.HasAny(g, pickupViewers...) {
			return []string{pickupsTopic}
		}
		return nil
	})
	s.routes()
	return nil
}

// routes registers a branch's pickup pages. Each checks the permission
// the use case will ask for, so that a user without it gets a 403 page.
func (s *Pages) routes() {
	write := []access.Perm{access.PickupWrite}
	dispatch := []access.Perm{access.PickupDispatch}
	finance := []access.Perm{access.FinanceManage}

	s.Home(web.HomePickups, "/pickups", pickupReaders...)
	s.Home(web.HomeCourier, "/courier", access.PickupCourier)
	s.Page("/pickups", s.pickupList, pickupViewers...)
	s.Page("/pickups/new", s.pickupNew, write...)
	s.Page("/pickups/quote", s.pickupQuote, write...)
	s.Action("/pickups", s.pickupCreate, write...)
	s.Page("/pickups/conflicts", s.pickupConflicts, pickupReaders...)
	s.Page("/pickups/reports", s.pickupReports, pickupReaders...)
	s.Page("/pickups/{id}", s.pickupPage, pickupViewers...)
	s.Action("/pickups/bulk", s.pickupBulk, pickupViewers...)
	s.printRoutes()
	s.Action("/pickups/{id}/cancel", s.pickupCancel, write...)
	s.Action("/pickups/{id}/check", s.pickupCheck, write...)
	s.Action("/pickups/{id}/reassign", s.pickupReassign, dispatch...)

	s.Page("/pickups/couriers", s.courierList, dispatch...)
	s.Action("/pickups/couriers", s.courierSet, dispatch...)
	s.Action("/pickups/couriers/{user}/duty", s.courierDuty, dispatch...)

	// Supervisors read accounts and statements; finance records on them.
	accounts := []access.Perm{access.FinanceManage, access.Supervise}
	s.Page("/accounts/{customer}", s.accountPage, accounts...)
	s.Action("/accounts/{customer}/payments", s.accountPayment, finance...)
	s.Page("/accounts/{customer}/statement", s.statementPage, accounts...)

	s.Page("/track", s.trackPage, pickupViewers...)

	s.Page("/courier", s.courierPage, access.PickupCourier)
	s.Page("/courier/list", s.courierListFragment, access.PickupCourier)
	s.Action("/courier/{id}/accept", s.courierAccept, access.PickupCourier)
	s.Action("/courier/{id}/pickup", s.courierPickUp, access.PickupCourier)
	s.Action("/courier/{id}/fail", s.courierFail, access.PickupCourier)
}

// Changed tells the browsers showing pickups that the pickups ids changed
// (booked, dispatched, accepted, picked up…), whoever changed them: the
// node calls it after every pickup command, local or pulled. Each page
// re-reads its own list, so the event carries only the ids.
func (s *Pages) Changed(ids ...string) {
	if s.Server == nil {
		return // not mounted
	}
	if ids == nil {
		ids = []string{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		s.Log().Error("pickups changed", "err", err)
		return
	}
	s.Broker().Publish(pickupsTopic, web.Event{Name: "pickup.changed", Data: string(b)})
}
