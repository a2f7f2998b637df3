package sdp

import (
	"bytes"
	"testing"
)

// FuzzSDP: rewriting, hold and blackhole never panic, and rewriting an
// unchanged body does not bump the version.
func FuzzSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"))
	f.Add([]byte("v=0\no=\nm=audio\nm=video 0 RTP/AVP 31\na=inactive\n"))
	f.Add([]byte("o=a b c d e f g\r\n\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		o := NewOrigin()
		a := o.Rewrite(body)
		v := o.version
		b := o.Rewrite(body)
		if !bytes.Equal(a, b) || o.version != v {
			t.Fatalf("rewriting the same body twice changed it: %q then %q", a, b)
		}
		_ = SetDirection(body, "sendonly")
		_ = Blackhole(body)
		if h := SetDirection(SetDirection(body, "sendonly"), "sendrecv"); len(body) > 0 && bytes.Contains(h, []byte("a=sendonly")) {
			t.Fatalf("retrieve left sendonly in %q", h)
		}
	})
}
