package web

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// memRevocations keeps revocations in memory, as a hub's state machine
// keeps them (unit test only).
type memRevocations map[string]time.Time

func (m memRevocations) Revoke(_ context.Context, h []byte, until time.Time) error {
	m[string(h)] = until
	return nil
}

func (m memRevocations) Revoked(_ context.Context, h []byte) (bool, error) {
	_, ok := m[string(h)]
	return ok, nil
}

func TestSignedSessions(t *testing.T) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, 32)
	revs := memRevocations{}
	s := SignedSessions{Key: func() ([]byte, error) { return key, nil }, Revocations: revs}
	now := time.Now().Truncate(time.Second)
	sess := Session{User: "admin", Roles: []string{"admin"}, CSRF: "csrf-token", Created: now, Expires: now.Add(SessionTTL)}
	id, err := s.New(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := s.New(ctx, sess)
	if other == id {
		t.Fatal("two sessions got one id")
	}
	// Another member with the same key reads it.
	elsewhere := SignedSessions{Key: func() ([]byte, error) { return bytes.Clone(key), nil }, Revocations: revs}
	got, err := elsewhere.Get(ctx, id)
	if err != nil || got.User != "admin" || got.CSRF != "csrf-token" || !got.Expires.Equal(sess.Expires) {
		t.Fatalf("Get = %+v, %v", got, err)
	}

	payload, sig, _ := strings.Cut(strings.TrimPrefix(id, signedPrefix), ".")
	forged, _ := SignedSessions{Key: func() ([]byte, error) { return bytes.Repeat([]byte{8}, 32), nil }}.New(ctx, sess)
	for name, bad := range map[string]string{
		"another key":     forged,
		"payload changed": signedPrefix + b64.EncodeToString([]byte(`{"user":"root","roles":["admin"]}`)) + "." + sig,
		"no signature":    signedPrefix + payload,
		"not a session":   "random-cookie-value",
		"API token":       "bl1." + payload + "." + sig,
		"empty":           "",
	} {
		if _, err := s.Get(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("%s: %v, want ErrNoSession", name, err)
		}
	}

	// Deleting revokes it everywhere, until it expires.
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if until := revs[string(hashID(id))]; !until.Equal(sess.Expires) {
		t.Fatalf("revoked until %v, want %v", until, sess.Expires)
	}
	if _, err := elsewhere.Get(ctx, id); !errors.Is(err, ErrNoSession) {
		t.Fatalf("a deleted session: %v", err)
	}
	if _, err := s.Get(ctx, other); err != nil {
		t.Fatalf("the other session after one was deleted: %v", err)
	}
	if err := s.Delete(ctx, "garbage"); err != nil || len(revs) != 1 {
		t.Fatalf("deleting garbage: %v, %d revocations", err, len(revs))
	}
}
