package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

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

// Accounts checks passwords of the node's local accounts.
type Accounts struct{ db *badger.DB }

// Login returns the principal of the local account user when password is
// its password (an administrator); auth.ErrBadCredentials otherwise, taking
// as long for a name that does not exist.
func (d Accounts) Login(_ context.Context, user, password string) (*auth.Principal, error) {
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
