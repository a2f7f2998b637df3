// Package sipauth authenticates SIP requests: digest challenges and
// their checking (RFC 2617 as SIP uses it, with stateless nonces and
// replay protection) and the throttle that slows down password guessing
// per user and source address.
//
// It decides; it does not answer. The switch (telephony/pbx) reads the
// directory for a user's secret, sends the 401 or 403, counts, logs and
// audits. This package must not depend on the switch, the call model or
// the store.
package sipauth
