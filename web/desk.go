package web

import (
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"branchline/access"
	telv1 "branchline/gen/branchline/telephony/v1"
)

// deskRoutes registers the agent desk (call.agent, for themselves) and the
// supervisor page (call.supervise). Both call the TelephonyService in
// process as the signed-in user; without it (a hub, or a node built
// without telephony) they are not served.
func (s *Server) deskRoutes() {
	if s.cfg.Telephony == nil {
		return
	}
	s.getPage("/desk", s.desk, access.CallAgent)
	s.postAction("/desk/login", s.deskLogin, access.CallAgent)
	s.postAction("/desk/state", s.deskState, access.CallAgent)
	s.postAction("/desk/logout", s.deskLogout, access.CallAgent)
	s.postAction("/desk/hangup", s.deskHangup, access.CallAgent)
	s.postAction("/desk/hold", s.deskHold, access.CallAgent)
	s.postAction("/desk/transfer", s.deskTransfer, access.CallAgent)
	s.postAction("/desk/dial", s.deskDial, access.CallAgent)
	s.postAction("/desk/callbacks/{id}/done", s.deskCallbackDone, access.CallAgent)
	s.getPage("/supervisor", s.supervisor, access.Supervise)
}

// deskData is what desk.html shows.
type deskData struct {
	// Agent is nil when the node runs without SIP.
	Agent   *telv1.Agent
	Unavail string
	// Callbacks are the open callbacks: the agent's own and the
	// unassigned ones to pick up.
	Callbacks []*telv1.Callback
	CanDial   bool
	// CanBook says the screen pop offers to book a pickup (叫件) for the
	// caller.
	CanBook bool
}

// StateKey is the catalog key of the agent's state.
func (d *deskData) StateKey() string {
	if d.Agent == nil || d.Agent.GetState() == "" {
		return "desk.state.logged_out"
	}
	return "desk.state." + d.Agent.GetState()
}

// LoggedIn reports whether the agent sits at an extension.
func (d *deskData) LoggedIn() bool {
	return d.Agent != nil && d.Agent.GetState() != "" && d.Agent.GetState() != "logged_out"
}

func (s *Server) desk(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "desk", "desk.title")
	data := &deskData{CanBook: s.cfg.Pickups != nil && p.Grant.Can(access.PickupWrite)}
	p.Data = data
	tel := s.cfg.Telephony
	ag, err := tel.GetAgent(apiCtx(r), connect.NewRequest(&telv1.GetAgentRequest{}))
	switch {
	case err == nil:
		data.Agent = ag.Msg
		data.CanDial = data.LoggedIn()
	case connect.CodeOf(err) == connect.CodeUnavailable:
		data.Unavail = p.T("desk.no_sip")
	default:
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	cbs, err := tel.ListCallbacks(apiCtx(r), connect.NewRequest(&telv1.ListCallbacksRequest{Status: "open", PageSize: 50}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	data.Callbacks = cbs.Msg.GetCallbacks()
	s.render(w, r, "desk", http.StatusOK, p)
}

// deskForm reads a desk action's small form.
func (s *Server) deskForm(w http.ResponseWriter, r *http.Request) (*Page, bool) {
	p := s.page(r, "desk", "desk.title")
	if !readAdminForm(w, r, p, 8<<10) {
		redirect(w, r, "/desk", p.T("form.too_large"))
		return p, false
	}
	return p, true
}

// deskDone sends the agent back to the desk with msg, or with err's
// message when the command failed.
func (s *Server) deskDone(w http.ResponseWriter, r *http.Request, p *Page, err error, msg string) {
	if err != nil {
		redirect(w, r, "/desk", p.T("desk.failed", errText(err)))
		return
	}
	redirect(w, r, "/desk", msg)
}

// errText is a Connect error's message without its code prefix.
func errText(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

func (s *Server) deskLogin(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	ext := p.Value("extension")
	_, err := s.cfg.Telephony.AgentLogin(apiCtx(r), connect.NewRequest(&telv1.AgentLoginRequest{
		Extension: ext, NotReady: p.Value("ready") != "1"}))
	s.deskDone(w, r, p, err, p.T("desk.logged_in", ext))
}

func (s *Server) deskState(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	st := p.Value("state")
	if st != "ready" && st != "not_ready" {
		redirect(w, r, "/desk", p.T("desk.failed", st))
		return
	}
	reason := ""
	if st == "not_ready" {
		reason = p.Value("reason")
	}
	_, err := s.cfg.Telephony.SetAgentState(apiCtx(r), connect.NewRequest(&telv1.SetAgentStateRequest{State: st, Reason: reason}))
	s.deskDone(w, r, p, err, "")
}

func (s *Server) deskLogout(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	_, err := s.cfg.Telephony.AgentLogout(apiCtx(r), connect.NewRequest(&telv1.AgentLogoutRequest{}))
	s.deskDone(w, r, p, err, p.T("desk.logged_out"))
}

func (s *Server) deskHangup(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	_, err := s.cfg.Telephony.Hangup(apiCtx(r), connect.NewRequest(&telv1.HangupRequest{Call: p.Value("call")}))
	s.deskDone(w, r, p, err, p.T("desk.hung_up"))
}

func (s *Server) deskHold(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	on := p.Value("hold") == "1"
	_, err := s.cfg.Telephony.Hold(apiCtx(r), connect.NewRequest(&telv1.HoldRequest{Call: p.Value("call"), Hold: on}))
	msg := p.T("desk.retrieved")
	if on {
		msg = p.T("desk.held")
	}
	s.deskDone(w, r, p, err, msg)
}

func (s *Server) deskTransfer(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	target := p.Value("target")
	_, err := s.cfg.Telephony.Transfer(apiCtx(r), connect.NewRequest(&telv1.TransferRequest{Call: p.Value("call"), Target: target}))
	s.deskDone(w, r, p, err, p.T("desk.transferred", target))
}

// deskDial places a click-to-dial call to a typed number, or to the
// number of a callback, call record or customer, which the server looks up
// so that an agent who may not see phone numbers calls without learning
// them (the callbacks list and the customer card post those).
func (s *Server) deskDial(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	req := &telv1.DialRequest{Number: strings.TrimSpace(p.Value("number")), Callback: p.Value("callback"),
		CallRecord: p.Value("call_record"), Customer: p.Value("customer")}
	_, err := s.cfg.Telephony.Dial(apiCtx(r), connect.NewRequest(req))
	msg := p.T("desk.dialing_back")
	if req.Number != "" {
		msg = p.T("desk.dialing", req.Number)
	}
	s.deskDone(w, r, p, err, msg)
}

func (s *Server) deskCallbackDone(w http.ResponseWriter, r *http.Request) {
	p, ok := s.deskForm(w, r)
	if !ok {
		return
	}
	_, err := s.cfg.Telephony.CompleteCallback(apiCtx(r), connect.NewRequest(&telv1.CompleteCallbackRequest{
		Id: r.PathValue("id"), Note: p.Value("note")}))
	s.deskDone(w, r, p, err, p.T("desk.callback_done"))
}
