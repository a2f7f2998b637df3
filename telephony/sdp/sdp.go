// Package sdp rewrites the SDP bodies (RFC 4566) a B2BUA forwards between
// the legs of a call: one origin per dialog whose version rises with each
// change (RFC 3264 §8), the direction attributes of hold and retrieval,
// and an answer that receives nothing. It parses no more of SDP than
// that, and must not depend on the switch or the call model.
package sdp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"strconv"
)

// Origin is the node's identity in the SDP it sends on one leg. A
// B2BUA that forwards SDP from different endpoints (after a transfer, or
// a hold) must still present one origin per dialog whose version rises
// with each change (RFC 3264 §8), so the o= line is rewritten.
type Origin struct {
	id      uint64
	version uint64
	last    []byte // the last SDP sent, without its o= line
}

// NewOrigin returns an origin with a random session id and version 0:
// the first Rewrite makes it 1.
func NewOrigin() Origin {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	return Origin{id: binary.BigEndian.Uint64(b[:]) >> 1}
}

// splitLines splits an SDP body into lines without their endings.
func splitLines(b []byte) [][]byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	lines := bytes.Split(b, []byte("\n"))
	for len(lines) > 0 && len(bytes.TrimSpace(lines[len(lines)-1])) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func joinLines(lines [][]byte) []byte {
	out := bytes.Join(lines, []byte("\r\n"))
	return append(out, '\r', '\n')
}

// Rewrite returns body with its o= line replaced by this origin; the
// version rises when anything else changed since the last SDP sent.
func (o *Origin) Rewrite(body []byte) []byte {
	if len(body) == 0 {
		return body
	}
	lines := splitLines(body)
	idx := -1
	var rest [][]byte
	for i, l := range lines {
		if idx < 0 && bytes.HasPrefix(l, []byte("o=")) {
			idx = i
			continue
		}
		rest = append(rest, l)
	}
	if idx < 0 {
		return body // not SDP as we know it; pass as is
	}
	// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
	f := bytes.Fields(lines[idx][2:])
	addr := []byte("IN IP4 0.0.0.0")
	if len(f) == 6 {
		addr = bytes.Join(f[3:], []byte(" "))
	}
	flat := joinLines(rest)
	if o.last == nil || !bytes.Equal(flat, o.last) {
		o.version++
		o.last = flat
	}
	lines[idx] = []byte("o=branchline " + strconv.FormatUint(o.id, 10) + " " + strconv.FormatUint(o.version, 10) + " " + string(addr))
	return joinLines(lines)
}

var directions = [][]byte{[]byte("a=sendrecv"), []byte("a=sendonly"), []byte("a=recvonly"), []byte("a=inactive")}

func isDirection(l []byte) bool {
	for _, d := range directions {
		if bytes.Equal(bytes.TrimSpace(l), d) {
			return true
		}
	}
	return false
}

// SetDirection returns body with every media section's direction set to
// dir and session-level directions removed.
func SetDirection(body []byte, dir string) []byte {
	if len(body) == 0 {
		return body
	}
	var out [][]byte
	inMedia := false
	for _, l := range splitLines(body) {
		if isDirection(l) {
			continue
		}
		if bytes.HasPrefix(l, []byte("m=")) {
			if inMedia {
				out = append(out, []byte("a="+dir))
			}
			inMedia = true
		}
		out = append(out, l)
	}
	if inMedia {
		out = append(out, []byte("a="+dir))
	}
	return joinLines(out)
}

// Blackhole answers offer with a session that receives nothing: what a
// click-to-dial ACKs the agent's phone with when the customer cannot be
// reached, before hanging up.
func Blackhole(offer []byte) []byte {
	var out [][]byte
	for _, l := range splitLines(SetDirection(offer, "inactive")) {
		if bytes.HasPrefix(l, []byte("c=IN IP4 ")) {
			l = []byte("c=IN IP4 0.0.0.0")
		}
		out = append(out, l)
	}
	return joinLines(out)
}
