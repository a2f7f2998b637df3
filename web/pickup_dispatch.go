package web

import (
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	pickupv1 "branchline/gen/branchline/pickup/v1"
)

// The dispatcher's pages: zones (片区) matched by district, postcode or
// address keyword, and the couriers who cover them.

// zonesData is what pickup_zones.html shows.
type zonesData struct {
	pickupPageData
	Zones []*pickupv1.Zone
	// Editing is the id of the zone the form edits; "" for a new one.
	Editing string
}

// splitItems reads a list typed one per line or separated by commas (ASCII
// or Chinese) or semicolons.
func splitItems(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return r == '\n' || r == '\r' || r == ',' || r == '，' || r == ';' || r == '；' || r == '、'
	})
	out := make([]string, 0, len(f))
	for _, v := range f {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// zoneFields are the zone form's inputs.
var zoneFields = []string{"id", "name", "districts", "postcodes", "keywords"}

func (s *Server) zoneList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.zones.title")
	d := &zonesData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/zones")}, Editing: r.URL.Query().Get("edit")}
	s.renderZones(w, r, p, d, http.StatusOK)
}

// renderZones lists the zones; the form shows p.Form, or the zone being
// edited when nothing was posted.
func (s *Server) renderZones(w http.ResponseWriter, r *http.Request, p *Page, d *zonesData, status int) {
	resp, err := s.cfg.Pickups.ListZones(apiCtx(r), connect.NewRequest(&pickupv1.ListZonesRequest{}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	d.Zones = resp.Msg.GetZones()
	if d.Editing != "" && len(p.Form) == 0 {
		for _, z := range d.Zones {
			if z.GetId() == d.Editing {
				p.Form.Set("id", z.GetId())
				p.Form.Set("name", z.GetName())
				p.Form.Set("districts", strings.Join(z.GetDistricts(), "\n"))
				p.Form.Set("postcodes", strings.Join(z.GetPostcodes(), "\n"))
				p.Form.Set("keywords", strings.Join(z.GetKeywords(), "\n"))
			}
		}
	}
	p.Data = d
	s.render(w, r, "pickup_zones", status, p)
}

func (s *Server) zoneSet(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.zones.title")
	d := &zonesData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/zones")}}
	if !readAdminForm(w, r, p, 64<<10) {
		s.renderZones(w, r, p, d, http.StatusRequestEntityTooLarge)
		return
	}
	d.Editing = p.Value("editing")
	z := &pickupv1.Zone{Id: strings.ToLower(p.Value("id")), Name: p.Value("name"),
		Districts: splitItems(p.Value("districts")), Postcodes: splitItems(p.Value("postcodes")), Keywords: splitItems(p.Value("keywords"))}
	if _, err := s.cfg.Pickups.SetZone(apiCtx(r), connect.NewRequest(&pickupv1.SetZoneRequest{Zone: z})); err != nil {
		s.renderZones(w, r, p, d, s.pickupFailed(p, err, zoneFields...))
		return
	}
	redirect(w, r, "/pickups/zones", p.T("pickup.zones.saved", z.GetId()))
}

func (s *Server) zoneRemove(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.zones.title")
	if !readAdminForm(w, r, p, 8<<10) {
		redirect(w, r, "/pickups/zones", p.T("form.too_large"))
		return
	}
	id := r.PathValue("id")
	if _, err := s.cfg.Pickups.RemoveZone(apiCtx(r), connect.NewRequest(&pickupv1.RemoveZoneRequest{Id: id})); err != nil {
		redirectWarn(w, r, "/pickups/zones", "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	redirect(w, r, "/pickups/zones", p.T("pickup.zones.removed", id))
}

// couriersData is what pickup_couriers.html shows.
type couriersData struct {
	pickupPageData
	Couriers []*pickupv1.Courier
	Zones    []option
	Editing  string
}

// courierFields are the courier form's inputs.
var courierFields = []string{"user", "name", "extension", "zones"}

func (s *Server) courierList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.couriers.title")
	d := &couriersData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/couriers")}, Editing: r.URL.Query().Get("edit")}
	s.renderCouriers(w, r, p, d, http.StatusOK)
}

func (s *Server) renderCouriers(w http.ResponseWriter, r *http.Request, p *Page, d *couriersData, status int) {
	resp, err := s.cfg.Pickups.ListCouriers(apiCtx(r), connect.NewRequest(&pickupv1.ListCouriersRequest{}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	d.Couriers = resp.Msg.GetCouriers()
	if d.Editing != "" && len(p.Form) == 0 {
		for _, c := range d.Couriers {
			if c.GetUser() == d.Editing {
				p.Form.Set("user", c.GetUser())
				p.Form.Set("name", c.GetName())
				p.Form.Set("extension", c.GetExtension())
				if c.GetOnDuty() {
					p.Form.Set("on_duty", "1")
				}
				p.Form["zones"] = c.GetZones()
			}
		}
	} else if len(p.Form) == 0 {
		p.Form.Set("on_duty", "1")
	}
	for _, z := range s.zones(r) {
		label := z.GetId()
		if z.GetName() != "" {
			label = z.GetName() + " (" + z.GetId() + ")"
		}
		d.Zones = append(d.Zones, option{Value: z.GetId(), Label: label, On: slices.Contains(p.Form["zones"], z.GetId())})
	}
	p.Data = d
	s.render(w, r, "pickup_couriers", status, p)
}

func (s *Server) courierSet(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.couriers.title")
	d := &couriersData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/couriers")}}
	if !readAdminForm(w, r, p, 16<<10) {
		s.renderCouriers(w, r, p, d, http.StatusRequestEntityTooLarge)
		return
	}
	d.Editing = p.Value("editing")
	c := &pickupv1.Courier{User: p.Value("user"), Name: p.Value("name"), Extension: p.Value("extension"),
		OnDuty: p.Value("on_duty") == "1", Zones: p.Form["zones"]}
	if _, err := s.cfg.Pickups.SetCourier(apiCtx(r), connect.NewRequest(&pickupv1.SetCourierRequest{Courier: c})); err != nil {
		s.renderCouriers(w, r, p, d, s.pickupFailed(p, err, courierFields...))
		return
	}
	redirect(w, r, "/pickups/couriers", p.T("pickup.couriers.saved", c.GetUser()))
}

// courierDuty puts a courier on or off duty, keeping the rest as it is.
func (s *Server) courierDuty(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "pickups", "pickup.couriers.title")
	if !readAdminForm(w, r, p, 8<<10) {
		redirect(w, r, "/pickups/couriers", p.T("form.too_large"))
		return
	}
	user := r.PathValue("user")
	var c *pickupv1.Courier
	for _, x := range s.couriers(r) {
		if x.GetUser() == user {
			c = x
		}
	}
	if c == nil {
		redirectWarn(w, r, "/pickups/couriers", "", p.T("pickup.action_failed", p.T("error.not_found")))
		return
	}
	c.OnDuty = p.Value("on") == "1"
	c.Open = 0
	if _, err := s.cfg.Pickups.SetCourier(apiCtx(r), connect.NewRequest(&pickupv1.SetCourierRequest{Courier: c})); err != nil {
		redirectWarn(w, r, "/pickups/couriers", "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	key := "pickup.couriers.off_duty_now"
	if c.OnDuty {
		key = "pickup.couriers.on_duty_now"
	}
	redirect(w, r, "/pickups/couriers", p.T(key, courierLabel(c)))
}
