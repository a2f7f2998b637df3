package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/auth"
)

// The node's local accounts. The first administrator is local to the node
// (not replicated), so that a node can be set up and used before it ever
// reached the hub, and each branch keeps a way in whatever happens to the
// company's replicated users.
//
//	auth \0 key            token signing key
//	auth \0 user \0 name   argon2id hash
var (
	signKey = []byte("auth\x00key")
)

func userKey(name string) []byte { return []byte("auth\x00user\x00" + name) }

// AdminUser is the name of the node's first administrator.
const AdminUser = "admin"

// ErrNoAdminPassword is returned on the first start without a password for
// the administrator.
var ErrNoAdminPassword = errors.New("first start: set BRANCHLINE_ADMIN_PASSWORD (at least 8 characters) for the admin user")

// initAuth creates the signing key and, on first start, the administrator.
func initAuth(db *badger.DB, adminPassword string) (*auth.Signer, error) {
	var key []byte
	err := db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(signKey)
		switch {
		case err == nil:
			key, err = item.ValueCopy(nil)
			if err != nil {
				return err
			}
		case errors.Is(err, badger.ErrKeyNotFound):
			key = auth.NewKey()
			if err := txn.Set(signKey, key); err != nil {
				return err
			}
		default:
			return err
		}
		if _, err := txn.Get(userKey(AdminUser)); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if adminPassword == "" {
			return ErrNoAdminPassword
		}
		hash, err := auth.HashPassword(adminPassword)
		if err != nil {
			return fmt.Errorf("admin password: %w", err)
		}
		return txn.Set(userKey(AdminUser), []byte(hash))
	})
	if err != nil {
		return nil, err
	}
	return auth.NewSigner(key)
}

// directory checks passwords of the node's local accounts.
type directory struct{ db *badger.DB }

func (d directory) Login(_ context.Context, user, password string) (*auth.Principal, error) {
	var hash []byte
	err := d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(userKey(user))
		if err != nil {
			return err
		}
		hash, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		auth.CheckUnknown(password)
		return nil, auth.ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, err := auth.CheckPassword(string(hash), password)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", user, err)
	}
	if !ok {
		return nil, auth.ErrBadCredentials
	}
	return &auth.Principal{User: user, Roles: []string{auth.RoleAdmin}}, nil
}

// principalOf is who user is when the node acts for them without a login
// of theirs at hand (the switch's hooks): a reserved name is a local
// account, which is an administrator (directory.Login), and any other
// name a replicated user, whose grant comes from their roles.
func principalOf(user string) *auth.Principal {
	if access.Reserved(user) {
		return &auth.Principal{User: user, Roles: []string{auth.RoleAdmin}}
	}
	return &auth.Principal{User: user}
}

// seedRoles creates cfg.DefaultRoles on a fresh store, in the name of the
// first administrator. A store that recorded anything is not fresh: an
// upgraded installation keeps exactly the roles its operators made.
func seedRoles(store *Store, cfg Config, log *slog.Logger) error {
	if len(cfg.DefaultRoles) == 0 || store.Progress().LastSeq > 0 {
		return nil
	}
	admin := &accessapp.Admin{Store: store, Node: cfg.ID}
	n, err := admin.SeedRoles(context.Background(), AdminUser, cfg.DefaultRoles)
	if err != nil {
		return err
	}
	log.Info("default roles created", "roles", n)
	return nil
}
