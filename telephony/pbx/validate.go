package pbx

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Limits on what a request may carry. sipgo's parser bounds a message at
// 64 KiB; these bound the parts the node keeps or copies.
const (
	MaxBody      = 64 << 10
	maxCallID    = 256
	maxUserPart  = 64
	maxTag       = 256
	maxDisplay   = 64
	maxContacts  = 10 // per extension
	maxBindings  = 20000
	maxHeaderVal = 1024
)

var (
	errNoVia     = errors.New("missing Via")
	errNoFrom    = errors.New("missing or malformed From")
	errNoTo      = errors.New("missing or malformed To")
	errNoCallID  = errors.New("missing or malformed Call-ID")
	errNoCSeq    = errors.New("missing or malformed CSeq")
	errCSeqMatch = errors.New("CSeq method does not match the request")
	errFromTag   = errors.New("From has no tag")
	errTooBig    = errors.New("body too large")
	errBadValue  = errors.New("header value too long")
)

// validate checks what every handler relies on. sipgo parses headers
// lazily and drops malformed ones, so a header that does not parse is
// treated as missing here, before anyone dereferences it.
func validate(req *sip.Request) error {
	if req.Via() == nil {
		return errNoVia
	}
	from := req.From()
	if from == nil {
		return errNoFrom
	}
	if req.To() == nil {
		return errNoTo
	}
	cid := req.CallID()
	if cid == nil || len(cid.Value()) == 0 || len(cid.Value()) > maxCallID {
		return errNoCallID
	}
	cseq := req.CSeq()
	if cseq == nil {
		return errNoCSeq
	}
	// sipgo upper-cases the request line's method but not CSeq's; the
	// wire check compared them exactly (methods are case-sensitive).
	if !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return errCSeqMatch
	}
	if tag, ok := from.Params.Get("tag"); !ok || tag == "" || len(tag) > maxTag {
		return errFromTag
	}
	if tag, ok := req.To().Params.Get("tag"); ok && len(tag) > maxTag {
		return errBadValue
	}
	if len(req.Body()) > MaxBody {
		return errTooBig
	}
	if len(from.Address.User) > 4*maxUserPart || len(req.To().Address.User) > 4*maxUserPart ||
		len(req.Recipient.User) > 4*maxUserPart || len(from.DisplayName) > 4*maxDisplay {
		return errBadValue
	}
	return nil
}

// cleanUser keeps the characters of a SIP user part the node passes on
// (digits, letters, + * # . _ -) and bounds its length, so that nothing a
// caller sent is copied verbatim into another leg's headers.
func cleanUser(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxUserPart {
			break
		}
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z',
			r == '+', r == '*', r == '#', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cleanDisplay drops quotes, backslashes and control characters from a
// display name and bounds it.
func cleanDisplay(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= maxDisplay {
			break
		}
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == 0xfffd {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// hasToTag reports whether a request is inside a dialog.
func hasToTag(req *sip.Request) bool {
	tag, ok := req.To().Params.Get("tag")
	return ok && tag != ""
}
