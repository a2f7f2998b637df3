package pbx

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the switch's Prometheus counters. They exist whether or not
// a registry is given (Config.Metrics), so the switch never checks.
type metrics struct {
	// authFailures counts refused digest authentications: "wrong"
	// credentials, and attempts refused unseen while the (user, address)
	// pair is "locked" out.
	authFailures *prometheus.CounterVec
	// badRequests counts requests refused on sight by the wire check,
	// by status code (400, 416, 505, 513).
	badRequests *prometheus.CounterVec
	// junkInvites counts INVITEs from trunks to numbers nobody answers
	// (no_route) or the trunk does not deliver (not_delivered).
	junkInvites *prometheus.CounterVec
	// refusedCalls counts new calls refused before any work (overload).
	refusedCalls *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "branchline_sip_auth_failures_total",
			Help: "SIP digest authentications refused: wrong credentials, or refused unseen while the user and address are locked out.",
		}, []string{"result"}),
		badRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "branchline_sip_bad_requests_total",
			Help: "SIP requests refused on sight because they are malformed or of an unsupported version or URI scheme, by status code.",
		}, []string{"code"}),
		junkInvites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "branchline_sip_junk_invites_total",
			Help: "INVITEs from trunks to numbers nobody answers or the trunk does not deliver: refused with 404 and not recorded as calls.",
		}, []string{"reason"}),
		refusedCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "branchline_sip_calls_refused_total",
			Help: "New calls refused with 503 and Retry-After before any work, by reason (overload).",
		}, []string{"reason"}),
	}
}

// register adds the switch's metrics to r. A switch started again in the
// same process (tests, a restart of the SIP part) counts on in the
// counters registered the first time.
func (m *metrics) register(r prometheus.Registerer) error {
	var err error
	if m.authFailures, err = adopt(r, m.authFailures); err != nil {
		return err
	}
	if m.badRequests, err = adopt(r, m.badRequests); err != nil {
		return err
	}
	if m.junkInvites, err = adopt(r, m.junkInvites); err != nil {
		return err
	}
	if m.refusedCalls, err = adopt(r, m.refusedCalls); err != nil {
		return err
	}
	return nil
}

// adopt registers c with r, or returns the collector registered before
// under the same name.
func adopt[T prometheus.Collector](r prometheus.Registerer, c T) (T, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(T); ok {
				return old, nil
			}
		}
		return c, fmt.Errorf("register sip metrics: %w", err)
	}
	return c, nil
}
