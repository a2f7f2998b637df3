package rpc

import (
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the client replicas and tools use to call each
// other: HTTP/2 over TLS for https URLs and over cleartext (h2c) for http
// URLs, with pings that notice a dead link within seconds.
func NewHTTPClient() *http.Client {
	var p http.Protocols
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:             &p,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 0, // Pull streams send headers at once but bodies forever
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 5 * time.Second,
			PingTimeout:     5 * time.Second,
		},
	}}
}

// NewServer returns an HTTP server for h serving HTTP/1.1 and HTTP/2 with
// and without TLS. Every answer carries the headers of secureHeaders.
func NewServer(h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           secureHeaders(h),
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// secureHeaders sets what every answer of a node or hub member carries,
// whatever serves it (the API, health and metrics, the web pages, which
// add their own): X-Content-Type-Options: nosniff, so that a browser never
// reads an API answer or an error text as another type than the one
// declared (a JSON error echoing input run as HTML or script).
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}
