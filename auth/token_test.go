package auth

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func testSigner(t testing.TB, seed byte) *Signer {
	t.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSignerRefusesShortKeys(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		if _, err := NewSigner(make([]byte, n)); err == nil {
			t.Errorf("NewSigner with a %d-byte key succeeded", n)
		}
	}
	key := bytes.Repeat([]byte{1}, 32)
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.Issue(Principal{User: "alice"}, time.Now(), time.Hour)
	key[0] = 2 // the caller's slice changing must not change the signer
	if _, err := s.Verify(tok, time.Now()); err != nil {
		t.Errorf("signer shares its key with the caller: %v", err)
	}
}

func TestIssueVerify(t *testing.T) {
	s := testSigner(t, 1)
	now := time.Date(2026, 11, 23, 9, 0, 0, 500e6, time.UTC)
	p := Principal{User: "alice", Roles: []string{RoleAdmin, "agent"}}
	tok, exp := s.Issue(p, now, time.Hour)
	if !strings.HasPrefix(tok, tokenPrefix) || strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q is not bl1.<claims>.<mac>", tok)
	}
	if want := now.Add(time.Hour).Truncate(time.Second); !exp.Equal(want) {
		t.Errorf("expiry %v, want %v", exp, want)
	}
	got, err := s.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.User != p.User || !slices.Equal(got.Roles, p.Roles) || !got.HasRole(RoleAdmin) || got.HasRole(RoleNode) {
		t.Errorf("Verify = %+v, want %+v", got, p)
	}
	if tok2, _ := s.Issue(p, now, time.Hour); tok2 == tok {
		t.Error("two tokens issued at the same instant are equal: no token id")
	}

	payload, sig, _ := strings.Cut(strings.TrimPrefix(tok, tokenPrefix), ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	// A payload signed with the right key but with content Verify must refuse.
	signed := func(js string) string {
		p := b64.EncodeToString([]byte(js))
		return tokenPrefix + p + "." + b64.EncodeToString(s.mac(p))
	}
	forged, _ := json.Marshal(claims{Principal: Principal{User: "mallory", Roles: []string{RoleAdmin}}, Exp: now.Add(time.Hour).Unix()})
	cases := []struct {
		name  string
		token string
		at    time.Time
		ok    bool
	}{
		{"valid", tok, now, true},
		{"valid a second before expiry", tok, exp.Add(-time.Second), true},
		{"expired at the expiry", tok, exp, false},
		{"expired long ago", tok, exp.Add(24 * time.Hour), false},
		{"tampered payload", tokenPrefix + flip(payload, 5) + "." + sig, now, false},
		{"payload of another principal", tokenPrefix + b64.EncodeToString(forged) + "." + sig, now, false},
		{"tampered signature", tokenPrefix + payload + "." + flip(sig, 3), now, false},
		{"truncated signature", tokenPrefix + payload + "." + sig[:len(sig)-2], now, false},
		{"no signature", tokenPrefix + payload, now, false},
		{"empty signature", tokenPrefix + payload + ".", now, false},
		{"extra part", tok + ".x", now, false},
		{"other prefix", "bl2." + payload + "." + sig, now, false},
		{"no prefix", payload + "." + sig, now, false},
		{"empty", "", now, false},
		{"too long", tokenPrefix + strings.Repeat("A", 4096) + "." + sig, now, false},
		{"signed but not JSON", signed("not json"), now, false},
		{"signed but no user", signed(`{"e":9999999999}`), now, false},
		{"signed, valid", signed(`{"u":"bob","e":9999999999}`), now, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Verify(c.token, c.at)
			if c.ok {
				if err != nil || got == nil {
					t.Fatalf("Verify = %v, %v; want a principal", got, err)
				}
				return
			}
			if !errors.Is(err, ErrBadToken) || got != nil {
				t.Fatalf("Verify = %+v, %v; want ErrBadToken", got, err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		if _, err := testSigner(t, 2).Verify(tok, now); !errors.Is(err, ErrBadToken) {
			t.Fatalf("a token verified under another key: %v", err)
		}
	})
}

// FuzzVerify: Verify never panics and accepts only tokens carrying the
// signer's MAC of their payload and a user.
func FuzzVerify(f *testing.F) {
	s := testSigner(f, 1)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tok, _ := s.Issue(Principal{User: "alice", Roles: []string{RoleAdmin}}, now, time.Hour)
	f.Add(tok)
	f.Add(tok[:len(tok)-3])
	f.Add("bl1..")
	f.Add("bl1.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := s.Verify(token, now)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("Verify error %v is not ErrBadToken", err)
			}
			return
		}
		payload, sig, _ := strings.Cut(strings.TrimPrefix(token, tokenPrefix), ".")
		mac, err := b64.DecodeString(sig)
		if err != nil || !bytes.Equal(mac, s.mac(payload)) || p.User == "" {
			t.Fatalf("accepted %q without a valid MAC or user", token)
		}
	})
}

func TestHashToken(t *testing.T) {
	a, b := NewNodeToken(), NewNodeToken()
	if a == b {
		t.Fatal("two node tokens are equal")
	}
	for _, tok := range []string{a, b} {
		if !strings.HasPrefix(tok, NodeTokenPrefix) || len(tok) < len(NodeTokenPrefix)+40 {
			t.Errorf("node token %q: want %s and 32 random bytes", tok, NodeTokenPrefix)
		}
	}
	if !bytes.Equal(HashToken(a), HashToken(a)) {
		t.Error("HashToken is not deterministic")
	}
	if bytes.Equal(HashToken(a), HashToken(b)) {
		t.Error("two tokens hash alike")
	}
	if n := len(HashToken(a)); n != 32 {
		t.Errorf("hash of %d bytes, want 32", n)
	}
	// A known answer, so that a change of hash (which would lock out every
	// registered node) does not go unnoticed.
	const want = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got := hex.EncodeToString(HashToken("")); got != want {
		t.Errorf("HashToken(\"\") = %s, want SHA-256 %s", got, want)
	}
}
