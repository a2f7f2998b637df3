package access

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"branchline/auth"
	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// Event kinds of personal API tokens.
const (
	KindTokenCreated = "access.token.created"
	KindTokenRevoked = "access.token.revoked"
)

// TokenPrefix starts every personal API token, telling it apart from node
// tokens (auth.NodeTokenPrefix, "bln_") and signed login tokens ("bl1.").
const TokenPrefix = "blp_"

// MaxTokenName bounds a token's name, in characters.
const MaxTokenName = 64

// Token is a personal API token, as the views hold it: never its secret,
// only the secret's SHA-256.
type Token struct {
	ID      string
	User    string // user id
	Name    string
	Expires time.Time // zero: never
	Revoked bool
	Origin  string
	Created replication.HLC
}

// TokenEntity is the event entity of token id.
func TokenEntity(id string) string { return "token/" + id }

// View keys (below replication.ViewPrefix):
//
//	access \0 tok \0 id                created register (value: origin)
//	access \0 tok \0 id \0 user|name|exp   plain values (a token never changes)
//	access \0 tok \0 id \0 revoked     ""
//	access \0 tokhash \0 hex(sha256)   token id
//	access \0 utok \0 user \0 id       "" (tokens of a user)
func tokKey(id string) []byte           { return replication.Key("access", "tok", id) }
func tokPartKey(id, part string) []byte { return replication.Key("access", "tok", id, part) }
func tokHashKey(hash []byte) []byte {
	return replication.Key("access", "tokhash", hex.EncodeToString(hash))
}
func userTokKey(user, id string) []byte { return replication.Key("access", "utok", user, id) }
func userTokPrefix(user string) []byte  { return replication.Prefix("access", "utok", user) }

var tokPrefix = replication.Prefix("access", "tok")

// NewTokenSecret returns a new random personal token: "blp_" and 32
// random bytes. Make it before Store.Exec and pass it to CreateToken, so
// that the command decides the same event if the store runs it again.
func NewTokenSecret() string {
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(auth.NewKey())
}

func validSecret(s string) bool {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// CreateToken decides the event that creates token id (a new ULID) of
// user (a user id), named name, with the secret made by NewTokenSecret,
// expiring at expires (zero: never). Only the secret's hash is recorded.
func CreateToken(views replication.Tx, id, user, name, secret string, expires time.Time) (replication.Draft, error) {
	if !replication.ValidULID(id) {
		return replication.Draft{}, fault.Invalidf("name", "bad_id", "%q is not a token id", id)
	}
	if !validSecret(secret) {
		return replication.Draft{}, fault.Invalidf("secret", "bad_secret", "not a personal token")
	}
	n, err := cleanText("display_name", name, MaxTokenName, true)
	if err != nil {
		return replication.Draft{}, err
	}
	u, err := GetUser(views, user)
	if err != nil {
		if inv, ok := fault.AsInvalid(err); ok {
			inv.Field = "user"
		}
		return replication.Draft{}, err
	}
	if u.Disabled {
		return replication.Draft{}, fault.Invalidf("user", "disabled", "user %s is disabled", u.Username)
	}
	if ok, err := exists(views, tokKey(id)); err != nil {
		return replication.Draft{}, err
	} else if ok {
		return replication.Draft{}, fmt.Errorf("token %s: %w", id, fault.ErrConflict)
	}
	var exp int64
	if !expires.IsZero() {
		exp = expires.UnixMilli()
	}
	return replication.Draft{Kind: KindTokenCreated, Entity: TokenEntity(id), Body: &accessv1.TokenCreated{
		User: user, Name: n, SecretHash: auth.HashToken(secret), ExpireUnixMs: exp,
	}}, nil
}

// RevokeToken decides the event that revokes token id; ok is false when
// it is revoked already.
func RevokeToken(views replication.Tx, id string) (d replication.Draft, ok bool, err error) {
	t, err := GetToken(views, id)
	if err != nil || t.Revoked {
		return d, false, err
	}
	return replication.Draft{Kind: KindTokenRevoked, Entity: TokenEntity(id), Body: &accessv1.TokenRevoked{}}, true, nil
}

// GetToken reads token id.
func GetToken(views replication.Tx, id string) (*Token, error) {
	if !replication.ValidULID(id) {
		return nil, fault.Invalidf("name", "bad_id", "%q is not a token id", id)
	}
	created, ok, err := replication.GetRegister(views, tokKey(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("token %s: %w", id, fault.ErrNotFound)
	}
	t := &Token{ID: id, Origin: string(created.Value), Created: created.Stamp.HLC}
	var exp string
	for part, dst := range map[string]*string{"user": &t.User, "name": &t.Name, "exp": &exp} {
		if *dst, _, err = getString(views, tokPartKey(id, part)); err != nil {
			return nil, err
		}
	}
	if ms, _ := strconv.ParseInt(exp, 10, 64); ms > 0 {
		t.Expires = time.UnixMilli(ms)
	}
	if t.Revoked, err = exists(views, tokPartKey(id, "revoked")); err != nil {
		return nil, err
	}
	return t, nil
}

// ListTokens returns the tokens of user (a user id; "" for every user's),
// in id order.
func ListTokens(views replication.Tx, user string) ([]*Token, error) {
	var ids []string
	var err error
	if user == "" {
		ids, err = listIDs(views, tokPrefix, "", 0)
	} else {
		p := userTokPrefix(user)
		err = views.Scan(p, nil, func(k, _ []byte) (bool, error) {
			ids = append(ids, string(k[len(p):]))
			return true, nil
		})
	}
	if err != nil {
		return nil, err
	}
	out := make([]*Token, 0, len(ids))
	for _, id := range ids {
		t, err := GetToken(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// TokenUser returns the username a personal API token stands for at now.
// A malformed, unknown, revoked or expired token, and one whose user is
// disabled, unknown or does not hold its username, is auth.ErrBadToken.
func TokenUser(views replication.Tx, token string, now time.Time) (string, error) {
	if !validSecret(token) {
		return "", auth.ErrBadToken
	}
	id, ok, err := getString(views, tokHashKey(auth.HashToken(token)))
	if err != nil {
		return "", err
	}
	if !ok {
		return "", auth.ErrBadToken
	}
	t, err := GetToken(views, id)
	if err != nil {
		return "", fmt.Errorf("token %s: %w", id, err)
	}
	if t.Revoked || !t.Expires.IsZero() && !now.Before(t.Expires) {
		return "", auth.ErrBadToken
	}
	u, err := GetUser(views, t.User)
	if err != nil || u.Disabled || u.UsernameOwner != "" || u.Username == "" {
		return "", auth.ErrBadToken
	}
	return u.Username, nil
}

// Appliers.

func checkTokenCreated(ev *replication.Event, b *accessv1.TokenCreated) error {
	if err := checkEntity(ev, "token"); err != nil {
		return err
	}
	if !replication.ValidULID(b.GetUser()) {
		return fault.Invalidf("user", "bad_id", "%q is not a user id", b.GetUser())
	}
	if n, err := cleanText("display_name", b.GetName(), MaxTokenName, true); err != nil || n != b.GetName() {
		return fault.Invalidf("display_name", "bad_text", "name %q is not canonical", b.GetName())
	}
	if len(b.GetSecretHash()) != 32 {
		return fault.Invalidf("secret", "bad_hash", "not a SHA-256")
	}
	if b.GetExpireUnixMs() < 0 {
		return fault.Invalidf("expire_time", "bad_time", "negative")
	}
	return nil
}

func checkTokenRevoked(ev *replication.Event, _ *accessv1.TokenRevoked) error {
	return checkEntity(ev, "token")
}

func applyTokenCreated(tx replication.Tx, ev *replication.Event, b *accessv1.TokenCreated) error {
	id, ok := entityID(ev, "token")
	if !ok || !replication.ValidULID(b.GetUser()) || len(b.GetSecretHash()) != 32 {
		return nil
	}
	if _, _, err := replication.SetRegister(tx, tokKey(id), []byte(ev.Origin), replication.StampOf(ev)); err != nil {
		return err
	}
	for _, kv := range []struct{ k, v string }{
		{"user", b.GetUser()}, {"name", b.GetName()}, {"exp", strconv.FormatInt(max(b.GetExpireUnixMs(), 0), 10)},
	} {
		if err := tx.Set(tokPartKey(id, kv.k), []byte(kv.v)); err != nil {
			return err
		}
	}
	if err := tx.Set(tokHashKey(b.GetSecretHash()), []byte(id)); err != nil {
		return err
	}
	return tx.Set(userTokKey(b.GetUser(), id), nil)
}

func applyTokenRevoked(tx replication.Tx, ev *replication.Event, _ *accessv1.TokenRevoked) error {
	id, ok := entityID(ev, "token")
	if !ok {
		return nil
	}
	// Revocation is final, and kept even if it arrives before the
	// creation: a revoked token never works again.
	return tx.Set(tokPartKey(id, "revoked"), nil)
}
