package pbx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"branchline/telephony/sipauth"
)

// AuditAuthFailed is the audit-log action of a refused SIP authentication.
const AuditAuthFailed = "sip_auth_failed"

// authenticate checks the digest credentials of req as user, whose secret
// is ha1 ("" when there is no such user). Unless they are good it answers
// req itself: 401 to challenge (none yet, or a stale nonce), 403 to
// refuse. A user that does not exist is checked against a secret nobody
// has, throttled and answered exactly as a wrong password is, so that
// neither the answer nor its timing tells which extensions exist.
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, creds *digest.Credentials, user, ha1 string) bool {
	if creds == nil {
		s.challenge(tx, req, false)
		return false
	}
	ip, _ := parseIP(req.Source())
	now := s.now()
	if s.throttle.Locked(user, ip, now) {
		s.metrics.authFailures.WithLabelValues("locked").Inc()
		s.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return false
	}
	secret := ha1
	if secret == "" {
		secret = s.decoyHA1
	}
	switch res := s.auth.Check(req, creds, user, secret); {
	case res == sipauth.OK && ha1 != "":
		s.throttle.Succeed(user, ip)
		return true
	case res == sipauth.Stale:
		s.challenge(tx, req, true)
		return false
	}
	failures, lock := s.throttle.Fail(user, ip, now)
	s.metrics.authFailures.WithLabelValues("wrong").Inc()
	s.log.Info("sip: authentication refused", "user", clip(user), "method", req.Method, "source", req.Source(),
		"failures", failures, "locked", lock)
	s.auditAuthFailure(req, user, failures, lock)
	s.respond(tx, req, sip.StatusForbidden, "Forbidden")
	return false
}

func (s *Server) challenge(tx sip.ServerTransaction, req *sip.Request, stale bool) {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", s.auth.Challenge(stale)))
	s.send(tx, res)
}

func newDecoyHA1() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b)
}

// auditAuthFailure writes a refused authentication to the audit log,
// through a limiter: entries are replicated events, and a scan from many
// addresses must not flood the store or the hub. Refusals over the
// limit are counted in the next entry (and all of them in the metric).
// Attempts refused unseen during a lockout are not entries of their own:
// the entry that started the lockout says how long it lasts.
func (s *Server) auditAuthFailure(req *sip.Request, user string, failures int, lock time.Duration) {
	if s.cfg.Audit == nil {
		return
	}
	ok, skipped := s.auditLimit.allow(s.now())
	if !ok {
		return
	}
	user = clip(user)
	src := req.Source()
	detail := fmt.Sprintf("%s from %s: wrong credentials (failure %d", req.Method, src, failures)
	if lock > 0 {
		detail += fmt.Sprintf(", locked out for %v", lock)
	}
	detail += ")"
	if skipped > 0 {
		detail += fmt.Sprintf("; %d more refused authentications not itemized", skipped)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := s.cfg.Audit(ctx, user, AuditAuthFailed, "sip/"+user, detail, src); err != nil {
			s.log.Error("sip: audit", "action", AuditAuthFailed, "user", user, "err", err)
		}
	}()
}

// limiter is a token bucket: burst events at once, then rate per second.
// It counts the events it refuses until the next one it allows.
type limiter struct {
	rate, burst float64

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	skipped int
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, tokens: burst}
}

// allow reports whether an event may happen at now and, when it may, how
// many were refused since the last allowed one.
func (l *limiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := now.Sub(l.last); !l.last.IsZero() && d > 0 {
		l.tokens = min(l.burst, l.tokens+d.Seconds()*l.rate)
	}
	if now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		l.skipped++
		return false, 0
	}
	l.tokens--
	n := l.skipped
	l.skipped = 0
	return true, n
}
