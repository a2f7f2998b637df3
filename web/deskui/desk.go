// Package deskui is the call centre's pages of a node's web UI: the
// agent's desk (call.agent, for themselves), the supervisor's live
// board (call.supervise) and the call records (every call for
// supervisors, their own for agents), thin translations onto the use cases of
// telephony/telephonyapp as the signed-in user. The screen pop reaches
// the desk over the kernel's live events.
package deskui

import (
	"embed"
	"errors"
	"net/http"
	"strings"

	"branchline/access"
	"branchline/fault"
	"branchline/telephony"
	"branchline/telephony/pbx"
	"branchline/telephony/telephonyapp"
	"branchline/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Pages are the desk and the supervisor page.
type Pages struct {
	*web.Server
	tel *telephonyapp.Telephony
}

// New returns the call centre's pages over tel, to mount on a
// web.Server.
func New(tel *telephonyapp.Telephony) *Pages { return &Pages{tel: tel} }

// Mount implements web.Pages.
func (s *Pages) Mount(k *web.Server) error {
	s.Server = k
	if err := k.Templates(templateFS); err != nil {
		return err
	}
	k.Enable("telephony")
	s.Page("/desk", s.desk, access.CallAgent)
	s.Action("/desk/login", s.deskLogin, access.CallAgent)
	s.Action("/desk/state", s.deskState, access.CallAgent)
	s.Action("/desk/logout", s.deskLogout, access.CallAgent)
	s.Action("/desk/hangup", s.deskHangup, access.CallAgent)
	s.Action("/desk/hold", s.deskHold, access.CallAgent)
	s.Action("/desk/transfer", s.deskTransfer, access.CallAgent)
	s.Action("/desk/dial", s.deskDial, access.CallAgent)
	s.Action("/desk/callbacks/{id}/done", s.deskCallbackDone, access.CallAgent)
	s.Page("/supervisor", s.supervisor, access.Supervise)
	s.Page("/calls", s.callList, access.CallAgent, access.Supervise)
	k.Home(web.HomeDesk, "/desk", access.CallAgent)
	k.Home(web.HomeBoard, "/supervisor", access.Supervise)
	return nil
}

// deskData is what desk.html shows.
type deskData struct {
	// Agent is nil when the node runs without SIP.
	Agent   *pbx.AgentInfo
	Unavail string
	// Callbacks are the open callbacks: the agent's own and the
	// unassigned ones to pick up.
	Callbacks []telephonyapp.Callback
	CanDial   bool
	// CanBook says the screen pop offers to book a pickup (叫件) for the
	// caller.
	CanBook bool
}

// StateKey is the catalog key of the agent's state.
func (d *deskData) StateKey() string {
	if d.Agent == nil || d.Agent.State == "" {
		return "desk.state.logged_out"
	}
	return "desk.state." + string(d.Agent.State)
}

// LoggedIn reports whether the agent sits at an extension.
func (d *deskData) LoggedIn() bool {
	return d.Agent != nil && d.Agent.State != "" && d.Agent.State != "logged_out"
}

func (s *Pages) desk(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "desk", "desk.title")
	data := &deskData{CanBook: p.Has("pickups") && p.Grant.Can(access.PickupWrite)}
	p.Data = data
	ctx, c := r.Context(), web.CallerOf(r)
	ag, err := s.tel.Agent(ctx, c)
	switch {
	case err == nil:
		data.Agent = &ag
		data.CanDial = data.LoggedIn()
	case errors.Is(err, fault.ErrUnavailable):
		data.Unavail = p.T("desk.no_sip")
	default:
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	cbs, err := s.tel.Callbacks(ctx, c, telephonyapp.CallbackQuery{Status: "open", Size: 50})
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	data.Callbacks = cbs
	s.Render(w, r, "desk", http.StatusOK, p)
}

// deskForm reads a desk action's small form.
func (s *Pages) deskForm(w http.ResponseWriter, r *http.Request) (*web.Page, bool) {
	p := s.NewPage(r, "desk", "desk.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		web.Redirect(w, r, "/desk", p.T("form.too_large"))
		return p, false
	}
	return p, true
}

// deskDone sends the agent back to the desk with msg, or with err's
// message (as the kernel words failures) when the command failed.
func (s *Pages) deskDone(w http.ResponseWriter, r *http.Request, p *web.Page, err error, msg string) {
	if err != nil {
		web.Redirect(w, r, "/desk", p.T("desk.failed", s.ErrorText(p, err)))
		return
	}
	web.Redirect(w, r, "/desk", msg)
}

func (s *Pages) deskLogin(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	ext := p.Value("extension")
	_, err := s.tel.Login(r.Context(), web.CallerOf(r), ext, p.Value("ready") == "1")
	s.deskDone(w, r, p, err, p.T("desk.logged_in", ext))
}

func (s *Pages) deskState(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	st := p.Value("state")
	if st != "ready" && st != "not_ready" {
		web.Redirect(w, r, "/desk", p.T("desk.failed", st))
		return
	}
	reason := ""
	if st == "not_ready" {
		reason = p.Value("reason")
	}
	_, err := s.tel.SetState(r.Context(), web.CallerOf(r), telephony.AgentState(st), reason)
	s.deskDone(w, r, p, err, "")
}

func (s *Pages) deskLogout(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	_, err := s.tel.Logout(r.Context(), web.CallerOf(r))
	s.deskDone(w, r, p, err, p.T("desk.logged_out"))
}

func (s *Pages) deskHangup(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	err := s.tel.Hangup(r.Context(), web.CallerOf(r), p.Value("call"))
	s.deskDone(w, r, p, err, p.T("desk.hung_up"))
}

func (s *Pages) deskHold(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	on := p.Value("hold") == "1"
	err := s.tel.Hold(r.Context(), web.CallerOf(r), p.Value("call"), on)
	msg := p.T("desk.retrieved")
	if on {
		msg = p.T("desk.held")
	}
	s.deskDone(w, r, p, err, msg)
}

func (s *Pages) deskTransfer(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	target := p.Value("target")
	err := s.tel.Transfer(r.Context(), web.CallerOf(r), p.Value("call"), target)
	s.deskDone(w, r, p, err, p.T("desk.transferred", target))
}

// deskDial places a click-to-dial call to a typed number, or to the
// number of a callback, call record or customer, which the use case looks
// up so that an agent who may not see phone numbers calls without
// learning them (the callbacks list and the customer card post those).
func (s *Pages) deskDial(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	t := telephonyapp.DialTarget{Number: strings.TrimSpace(p.Value("number")), Callback: p.Value("callback"),
		CallRecord: p.Value("call_record"), Customer: strings.TrimPrefix(p.Value("customer"), "customers/")}
	_, err := s.tel.Dial(r.Context(), web.CallerOf(r), t)
	msg := p.T("desk.dialing_back")
	if t.Number != "" {
		msg = p.T("desk.dialing", t.Number)
	}
	s.deskDone(w, r, p, err, msg)
}

func (s *Pages) deskCallbackDone(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	_, err := s.tel.CompleteCallback(r.Context(), web.CallerOf(r), r.PathValue("id"), p.Value("note"))
	s.deskDone(w, r, p, err, p.T("desk.callback_done"))
}
