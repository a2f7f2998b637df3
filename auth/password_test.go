package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	const pw = "correct horse battery"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with the documented parameters", h1)
	}
	cases := []struct {
		name     string
		hash, pw string
		want     bool
	}{
		{"right password", h1, pw, true},
		{"right password, other hash", h2, pw, true},
		{"wrong password", h1, "correct horse battery!", false},
		{"empty password", h1, "", false},
		{"case differs", h1, strings.ToUpper(pw), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, err := CheckPassword(c.hash, c.pw)
			if err != nil || ok != c.want {
				t.Fatalf("CheckPassword = %v, %v; want %v", ok, err, c.want)
			}
		})
	}
}

func TestHashPasswordRefusesShortPasswords(t *testing.T) {
	for _, pw := range []string{"", "1234567"} {
		if h, err := HashPassword(pw); !errors.Is(err, ErrWeakPassword) || h != "" {
			t.Errorf("HashPassword(%q) = %q, %v; want ErrWeakPassword", pw, h, err)
		}
	}
	if _, err := HashPassword("12345678"); err != nil {
		t.Errorf("a password of MinPasswordLen: %v", err)
	}
}

func TestCheckPasswordRefusesMalformedHashes(t *testing.T) {
	good, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=…, salt, key
	with := func(i int, s string) string {
		p := append([]string(nil), parts...)
		p[i] = s
		return strings.Join(p, "$")
	}
	cases := []struct {
		name string
		hash string
	}{
		{"empty", ""},
		{"plain text", "correct horse battery"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", with(1, "argon2i")},
		{"five parts", strings.Join(parts[:5], "$")},
		{"seven parts", good + "$x"},
		{"other version", with(2, "v=16")},
		{"no version", with(2, "x")},
		{"bad parameters", with(3, "m=a,t=b,p=c")},
		{"salt not base64", with(4, "!!!")},
		{"key not base64", with(5, "!!!")},
		{"empty key", with(5, "")},
		{"zero passes", with(3, "m=19456,t=0,p=1")},
		{"zero lanes", with(3, "m=19456,t=2,p=0")},
		{"absurd memory", with(3, "m=4294967295,t=2,p=1")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, err := CheckPassword(c.hash, "correct horse battery")
			if ok || !errors.Is(err, errBadHash) {
				t.Fatalf("CheckPassword(%q) = %v, %v; want false, errBadHash", c.hash, ok, err)
			}
		})
	}
}
