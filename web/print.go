package web

import (
	"net/http"

	"branchline/fault"
	"branchline/web/label"
)

// Printout is embedded in the data of every printout — a page of a
// template named print_*.html (Templates), such as a pickup slip, a
// shipping label or a sheet of product labels — and tells the print
// layout (templates/print.html) how to lay it out.
//
// The print layout is a whole document of its own: no menu, no forms, a
// bar with the print button and the way back that never prints, and the
// printout's sheets (elements of class "sheet", each starting a new page)
// on the paper Paper names, whose size and margins static/print.css gives
// (@page). Barcodes come from the template function "barcode"
// (label.SVG). Times show in the business zone, as on every page; phone
// numbers show as the use cases return them, masked for a user who may
// not see them, and are never links on paper.
type Printout struct {
	// Paper is the paper the printout is laid out on.
	Paper label.Paper
	// Back is the page the printout was opened from, where its bar's
	// "back" link goes.
	Back string
}

// PrintFailed answers a printout that cannot be made with the error page:
// the failure's message and status as Failed words them — 404 for a
// record that is not there, 403 for one the user may not see — but for
// an invalid input, which is a printout's link (its id, its query) and
// not a form to correct, 400 Bad Request with the input's message,
// translated under <area>.invalid.<code> when the catalog has it.
func (s *Server) PrintFailed(w http.ResponseWriter, r *http.Request, p *Page, err error, area string) {
	status := s.Failed(p, err)
	if inv, ok := fault.AsInvalid(err); ok {
		msg := p.InvalidText("invalid", inv)
		if key := area + ".invalid." + inv.Code; p.HasText(key) {
			msg = p.T(key)
		}
		clear(p.Errors)
		p.Errors[""] = msg
		status = http.StatusBadRequest
	}
	s.Render(w, r, "error", status, p)
}
