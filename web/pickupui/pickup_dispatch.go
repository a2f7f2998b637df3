package pickupui

import (
	"net/http"
	"slices"
	"strings"

	"branchline/crm/pickup"
	"branchline/web"
)

// The dispatcher's pages: zones (片区) matched by district, postcode or
// address keyword, and the couriers who cover them.

// zonesData is what pickup_zones.html shows.
type zonesData struct {
	pickupPageData
	Zones []pickup.Zone
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

func (s *Pages) zoneList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.zones.title")
	d := &zonesData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/zones")}, Editing: r.URL.Query().Get("edit")}
	s.renderZones(w, r, p, d, http.StatusOK)
}

// renderZones lists the zones; the form shows p.Form, or the zone being
// edited when nothing was posted.
func (s *Pages) renderZones(w http.ResponseWriter, r *http.Request, p *web.Page, d *zonesData, status int) {
	zs, err := s.cfg.Pickups.Zones(r.Context(), web.CallerOf(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	d.Zones = zs
	if d.Editing != "" && len(p.Form) == 0 {
		for _, z := range d.Zones {
			if z.ID == d.Editing {
				p.Form.Set("id", z.ID)
				p.Form.Set("name", z.Name)
				p.Form.Set("districts", strings.Join(z.Districts, "\n"))
				p.Form.Set("postcodes", strings.Join(z.Postcodes, "\n"))
				p.Form.Set("keywords", strings.Join(z.Keywords, "\n"))
			}
		}
	}
	p.Data = d
	s.Render(w, r, "pickup_zones", status, p)
}

func (s *Pages) zoneSet(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.zones.title")
	d := &zonesData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/zones")}}
	if !web.ReadForm(w, r, p, 64<<10) {
		s.renderZones(w, r, p, d, http.StatusRequestEntityTooLarge)
		return
	}
	d.Editing = p.Value("editing")
	z := pickup.Zone{ID: strings.ToLower(p.Value("id")), Name: p.Value("name"),
		Districts: splitItems(p.Value("districts")), Postcodes: splitItems(p.Value("postcodes")), Keywords: splitItems(p.Value("keywords"))}
	if _, err := s.cfg.Pickups.SetZone(r.Context(), web.CallerOf(r), z); err != nil {
		s.renderZones(w, r, p, d, s.pickupFailed(p, err, zoneFields...))
		return
	}
	web.Redirect(w, r, "/pickups/zones", p.T("pickup.zones.saved", z.ID))
}

func (s *Pages) zoneRemove(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.zones.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		web.Redirect(w, r, "/pickups/zones", p.T("form.too_large"))
		return
	}
	id := r.PathValue("id")
	if err := s.cfg.Pickups.RemoveZone(r.Context(), web.CallerOf(r), id); err != nil {
		web.RedirectWarn(w, r, "/pickups/zones", "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	web.Redirect(w, r, "/pickups/zones", p.T("pickup.zones.removed", id))
}

// couriersData is what pickup_couriers.html shows.
type couriersData struct {
	pickupPageData
	Couriers  []pickup.Courier
	Zones     []web.Option
	ZoneNames map[string]string
	Editing   string
}

// ZoneName is what people call zone id: its name, or its id when it has
// none.
func (d *couriersData) ZoneName(id string) string {
	if n := d.ZoneNames[id]; n != "" {
		return n
	}
	return id
}

// courierFields are the courier form's inputs.
var courierFields = []string{"user", "name", "extension", "branches", "zones"}

func (s *Pages) courierList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.couriers.title")
	d := &couriersData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/couriers")}, Editing: r.URL.Query().Get("edit")}
	s.renderCouriers(w, r, p, d, http.StatusOK)
}

func (s *Pages) renderCouriers(w http.ResponseWriter, r *http.Request, p *web.Page, d *couriersData, status int) {
	cs, err := s.cfg.Pickups.Couriers(r.Context(), web.CallerOf(r), "")
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	d.Couriers = cs
	if d.Editing != "" && len(p.Form) == 0 {
		for _, c := range d.Couriers {
			if c.User == d.Editing {
				p.Form.Set("user", c.User)
				p.Form.Set("name", c.Name)
				p.Form.Set("extension", c.Extension)
				p.Form.Set("branches", strings.Join(c.Branches, ", "))
				if c.OnDuty {
					p.Form.Set("on_duty", "1")
				}
				p.Form["zones"] = c.Zones
			}
		}
	} else if len(p.Form) == 0 {
		p.Form.Set("on_duty", "1")
	}
	d.ZoneNames = map[string]string{}
	for _, z := range s.zones(r) {
		d.Zones = append(d.Zones, web.Option{Value: z.ID, Label: zoneLabel(z), On: slices.Contains(p.Form["zones"], z.ID)})
		d.ZoneNames[z.ID] = z.Name
	}
	p.Data = d
	s.Render(w, r, "pickup_couriers", status, p)
}

func (s *Pages) courierSet(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.couriers.title")
	d := &couriersData{pickupPageData: pickupPageData{Nav: pickupNav(p, "/pickups/couriers")}}
	if !web.ReadForm(w, r, p, 16<<10) {
		s.renderCouriers(w, r, p, d, http.StatusRequestEntityTooLarge)
		return
	}
	d.Editing = p.Value("editing")
	c := pickup.Courier{User: p.Value("user"), Name: p.Value("name"), Extension: p.Value("extension"),
		OnDuty: p.Value("on_duty") == "1", Zones: p.Form["zones"], Branches: splitItems(p.Value("branches"))}
	if _, err := s.cfg.Pickups.SetCourier(r.Context(), web.CallerOf(r), c); err != nil {
		s.renderCouriers(w, r, p, d, s.pickupFailed(p, err, courierFields...))
		return
	}
	web.Redirect(w, r, "/pickups/couriers", p.T("pickup.couriers.saved", c.User))
}

// courierDuty puts a courier on or off duty, keeping the rest as it is.
func (s *Pages) courierDuty(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "pickups", "pickup.couriers.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		web.Redirect(w, r, "/pickups/couriers", p.T("form.too_large"))
		return
	}
	user := r.PathValue("user")
	var c *pickup.Courier
	for _, x := range s.couriers(r) {
		if x.User == user {
			c = &x
		}
	}
	if c == nil {
		web.RedirectWarn(w, r, "/pickups/couriers", "", p.T("pickup.action_failed", p.T("error.not_found")))
		return
	}
	c.OnDuty = p.Value("on") == "1"
	c.Open = 0
	if _, err := s.cfg.Pickups.SetCourier(r.Context(), web.CallerOf(r), *c); err != nil {
		web.RedirectWarn(w, r, "/pickups/couriers", "", p.T("pickup.action_failed", s.pickupErrText(p, err)))
		return
	}
	key := "pickup.couriers.off_duty_now"
	if c.OnDuty {
		key = "pickup.couriers.on_duty_now"
	}
	web.Redirect(w, r, "/pickups/couriers", p.T(key, CourierLabel(*c)))
}
