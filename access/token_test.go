package access

import (
	"strings"
	"testing"
	"time"

	"branchline/auth"
)

func TestTokens(t *testing.T) {
	r := newReplica(t)
	u := r.addUser(t, "api.bot", nil)
	now := time.UnixMilli(1_790_000_000_000)

	secret := NewTokenSecret()
	if !strings.HasPrefix(secret, TokenPrefix) || strings.HasPrefix(secret, auth.NodeTokenPrefix) || strings.HasPrefix(secret, "bl1.") {
		t.Fatalf("secret %q is not told apart from other tokens", secret)
	}
	if NewTokenSecret() == secret {
		t.Fatal("two secrets are equal")
	}
	id := newID()
	d, err := CreateToken(r.read(), id, u, " ERP sync ", secret, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r.record(t, d)

	for _, c := range []struct {
		name  string
		token string
		at    time.Time
		want  string
	}{
		{"valid", secret, now, "api.bot"},
		{"expired", secret, now.Add(time.Hour), ""},
		{"another secret", NewTokenSecret(), now, ""},
		{"truncated", secret[:len(secret)-1], now, ""},
		{"node token", auth.NodeTokenPrefix + secret[4:], now, ""},
		{"empty", "", now, ""},
	} {
		got, err := TokenUser(r.read(), c.token, c.at)
		if c.want != "" && (err != nil || got != c.want) {
			t.Errorf("%s: TokenUser = %q, %v; want %q", c.name, got, err, c.want)
		}
		if c.want == "" && err != auth.ErrBadToken {
			t.Errorf("%s: TokenUser = %q, %v; want ErrBadToken", c.name, got, err)
		}
	}

	ts, err := ListTokens(r.read(), u)
	if err != nil || len(ts) != 1 || ts[0].Name != "ERP sync" || ts[0].User != u || !ts[0].Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("ListTokens = %+v, %v", ts, err)
	}
	if all, _ := ListTokens(r.read(), ""); len(all) != 1 {
		t.Errorf("ListTokens of everyone = %d tokens", len(all))
	}

	// A disabled user's tokens stop working, and work again when enabled.
	r.mustChange(t)(SetDisabled(r.read(), u, true))
	if _, err := TokenUser(r.read(), secret, now); err != auth.ErrBadToken {
		t.Errorf("token of a disabled user: %v", err)
	}
	if _, err := CreateToken(r.read(), newID(), u, "x", NewTokenSecret(), time.Time{}); err == nil {
		t.Error("a token was made for a disabled user")
	}
	r.mustChange(t)(SetDisabled(r.read(), u, false))

	r.mustChange(t)(RevokeToken(r.read(), id))
	if _, err := TokenUser(r.read(), secret, now); err != auth.ErrBadToken {
		t.Errorf("revoked token: %v", err)
	}
	if _, ok, err := RevokeToken(r.read(), id); ok || err != nil {
		t.Errorf("revoking twice: ok %v, %v", ok, err)
	}

	// Bad input.
	cases := []struct {
		name                   string
		id, user, tname, token string
		field, code            string
	}{
		{"bad id", "t1", u, "n", NewTokenSecret(), "name", "bad_id"},
		{"bad secret", newID(), u, "n", "blp_short", "secret", "bad_secret"},
		{"no name", newID(), u, " ", NewTokenSecret(), "display_name", "required"},
		{"bad user", newID(), "bob", "n", NewTokenSecret(), "user", "bad_id"},
	}
	for _, c := range cases {
		_, err := CreateToken(r.read(), c.id, c.user, c.tname, c.token, time.Time{})
		wantInvalid(t, err, c.field, c.code)
	}
	if _, err := CreateToken(r.read(), newID(), newID(), "n", NewTokenSecret(), time.Time{}); !isNotFound(err) {
		t.Errorf("token of an unknown user: %v", err)
	}
}
