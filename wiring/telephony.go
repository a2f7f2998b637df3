package wiring

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"branchline/access"
	"branchline/api"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/pickup"
	"branchline/gen/branchline/telephony/v1/telephonyv1connect"
	"branchline/node"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
	"branchline/telephony/telephonyapp"
	"branchline/web"
)

// TelephonyConfig is the SIP part of a node's configuration.
type TelephonyConfig struct {
	// SIPAddr is the host:port the switch listens on, UDP and TCP (flag
	// --sip, BRANCHLINE_SIP); empty: the node runs without SIP, and the
	// telephony API serves configuration, records and callbacks only.
	SIPAddr string
	// SIPHost is the address put in Via and Contact; default: SIPAddr's
	// host, or the machine's first IPv4 address when that is 0.0.0.0.
	SIPHost string
	// Location is the node's time zone for days and membership windows;
	// nil: the node's business time zone (Config.Location).
	Location *time.Location
	// MaxCallRate bounds the new calls the switch admits per second (flag
	// --sip-max-call-rate); more are refused with 503 and Retry-After. 0:
	// no bound, only the switch's backlog and call limit shed load.
	MaxCallRate float64
	// MaxSetup bounds the calls in setup (flag --sip-max-setup; see
	// pbx.Overload).
	MaxSetup int
}

// telephonyParts is what StartNode wires: the telephony use cases, served
// by the Connect service (mount) and the desk pages, and, with SIP, the
// switch, closed on shutdown after the HTTP server and before the store.
type telephonyParts struct {
	sip     *pbx.Server // nil without SIP
	app     *telephonyapp.Telephony
	service *api.TelephonyService
}

var _ telephonyapp.Switch = (*pbx.Server)(nil)

// startTelephony builds the telephony service on the node's store and,
// when cfg.SIPAddr is set, starts the SIP switch: calls are handled and
// recorded locally whether or not the hub is reachable.
func startTelephony(n *node.Node, cfg TelephonyConfig, grants app.Grants, broker *web.Broker) (*telephonyParts, error) {
	store, log := n.Store(), n.Log()
	tel := &telephonyapp.Telephony{Store: store, Location: cfg.Location}
	parts := &telephonyParts{app: tel, service: &api.TelephonyService{App: tel, Grants: grants, Log: log}}
	if cfg.SIPAddr == "" {
		return parts, nil
	}
	hooks := switchHooks{store: store, log: log, broker: broker}
	auditor := api.StoreAuditor{Store: store, Node: n.Config().ID}
	metrics := n.Metrics()
	srv, err := pbx.Start(pbx.Config{
		UDPAddr: cfg.SIPAddr, TCPAddr: cfg.SIPAddr, Host: cfg.SIPHost, Store: store, Log: log,
		Location: cfg.Location, Blacklist: hooks.blacklisted, Priority: hooks.callerPriority,
		OnRing:  func(agent string, c pbx.CallInfo) { hooks.screenPop(tel, grants, agent, c) },
		OnAgent: hooks.agentChanged, Metrics: metrics, Overload: pbx.Overload{MaxRate: cfg.MaxCallRate, MaxSetup: cfg.MaxSetup},
		// Refused SIP authentications go to the audit log like failed
		// logins: the actor is the user named, the remote the phone's address.
		Audit: func(ctx context.Context, actor, action, target, detail, remote string) error {
			return auditor.RecordAs(auth.WithRemoteAddr(ctx, remote), actor, action, target, detail)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	tel.Switch = srv
	parts.sip = srv
	if metrics != nil {
		metrics.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "branchline_sip_active_calls", Help: "Calls in progress on the node's switch.",
			}, func() float64 { return float64(srv.ActiveCalls()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "branchline_sip_active_dialogs", Help: "SIP dialogs (call legs) the switch holds.",
			}, func() float64 { return float64(srv.ActiveDialogs()) }),
		)
	}
	return parts, nil
}

// mount serves the telephony API on mux.
func (p *telephonyParts) mount(mux *http.ServeMux, opts ...connect.HandlerOption) {
	mux.Handle(telephonyv1connect.NewTelephonyServiceHandler(p.service, opts...))
}

// close hangs up the calls and stops the switch.
func (p *telephonyParts) close() error {
	if p == nil || p.sip == nil {
		return nil
	}
	return p.sip.Close()
}

// switchHooks are the switch's hooks into the CRM and the pages.
type switchHooks struct {
	store  *node.Store
	log    *slog.Logger
	broker *web.Broker
}

// blacklisted is the switch's blacklist hook: the CRM's status of the
// number now. A number that does not parse is not listed.
func (n switchHooks) blacklisted(number string) (reject, warn bool) {
	var st crm.Status
	err := n.store.View(func(views replication.Tx) error {
		var err error
		st, err = crm.BlacklistStatus(views, number, time.Now())
		return err
	})
	if err != nil {
		return false, false
	}
	return st.Rejects(), st.Warns()
}

// callerPriority is the switch's VIP hook: the caller's member level,
// ranked by the level rules (the first rule is the highest level).
func (n switchHooks) callerPriority(number string) int {
	prio := 0
	_ = n.store.View(func(views replication.Tx) error {
		cs, err := crm.LookupByPhone(views, number)
		if err != nil || len(cs) == 0 {
			return err
		}
		m, err := crm.GetMembership(views, cs[0].ID, time.Now(), 0)
		if err != nil || m.Level == "" {
			return err
		}
		rules, _, err := crm.GetLevelRules(views)
		if err != nil {
			return err
		}
		for i, r := range rules.GetRules() {
			if r.GetLevel() == m.Level {
				prio = len(rules.GetRules()) - i
				break
			}
		}
		return nil
	}) // a failed lookup leaves the caller at 0: calls are never held up by it
	return prio
}

// screenPop is the switch's ring hook: the agent's browsers get the call
// and the caller's customer cards at once, over SSE ("user:<agent>",
// event "call.ring"), as the agent may see them (telephonyapp's
// ScreenPop); unknown numbers come with no customers, for the
// new-customer form.
func (n switchHooks) screenPop(tel *telephonyapp.Telephony, grants app.Grants, agent string, c pbx.CallInfo) {
	ctx := auth.WithPrincipal(context.Background(), principalOf(agent))
	caller, err := app.CallerOf(ctx, grants)
	if err != nil {
		n.log.Warn("screen pop", "agent", agent, "call", c.ID, "err", err)
		return
	}
	pop, err := tel.ScreenPop(ctx, caller, c, time.Now())
	if err != nil {
		n.log.Warn("screen pop", "agent", agent, "call", c.ID, "err", err)
		return
	}
	b, err := json.Marshal(pop)
	if err != nil {
		n.log.Error("screen pop", "err", err)
		return
	}
	n.broker.Publish("user:"+agent, web.Event{Name: "call.ring", Data: string(b)})
}

// agentChanged tells the agent's browsers (desk) and supervisors (topic
// "board") of an agent's new state.
func (n switchHooks) agentChanged(a pbx.AgentInfo) {
	b, err := json.Marshal(struct {
		User      string    `json:"user"`
		Extension string    `json:"extension"`
		State     string    `json:"state"`
		Reason    string    `json:"reason,omitempty"`
		Since     time.Time `json:"since"`
		Call      string    `json:"call,omitempty"`
	}{a.User, a.Extension, string(a.State), a.Reason, a.Since, a.Call})
	if err != nil {
		return
	}
	ev := web.Event{Name: "agent.state", Data: string(b)}
	n.broker.Publish("user:"+a.User, ev)
	n.broker.Publish("board", ev)
}

// principalOf is who user is when the node acts for them without a login
// of theirs at hand (the switch's hooks): a reserved name is a local
// account, which is an administrator (node.Accounts), and any other
// name a replicated user, whose grant comes from their roles.
func principalOf(user string) *auth.Principal {
	if access.Reserved(user) {
		return &auth.Principal{User: user, Roles: []string{auth.RoleAdmin}}
	}
	return &auth.Principal{User: user}
}

// queueMessage is the phone system's pickup.Messenger: the message is
// queued as msgID to an extension that is configured, for the switch to
// deliver.
func queueMessage(msgID string) pickup.Messenger {
	return func(views replication.Tx, extension, text string) (replication.Draft, bool, error) {
		if _, ok, err := telephony.GetExtension(views, extension); err != nil || !ok {
			return replication.Draft{}, false, err
		}
		msg, err := telephony.QueueMessage(views, msgID, extension, text)
		return msg, err == nil, err
	}
}
