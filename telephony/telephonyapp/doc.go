// Package telephonyapp holds the use cases of the call centre (package
// telephony, and the node's switch): telephony configuration, the agent's
// desk (log in, states, click-to-dial, call control), call records,
// callbacks, the KPIs and live board, SIP messages, and the screen pop.
// The API's TelephonyService and the desk and supervisor pages are thin
// translations on top.
//
// Configuration needs access.TelephonyAdmin (its lists access.Supervise
// too); the agent's own calls, records and callbacks access.CallAgent;
// everyone's access.Supervise. Every use case checks the caller's
// permission before it looks at the request. Numbers outside the company
// are masked for callers without access.PhoneView.
//
// The switch is reached through the Switch port, which the node's SIP
// switch (telephony/pbx) implements; without it, configuration, records
// and callbacks are served from the views and live commands fail with
// fault.ErrUnavailable.
package telephonyapp
