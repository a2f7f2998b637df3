package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"branchline/volume"
)

// Sessions keeps the web sessions a node issued in its Badger store,
// outside the replicated views: a session belongs to the node that issued
// it. A session is opaque here (its caller encodes it), kept under the hash
// of its id until it expires:
//
//	sess \0 sha256(id)   session, with a Badger TTL
//
// While the data volume is full a new session is kept in memory instead,
// so that people can still log in to look things up; it ends with the
// process.
type Sessions struct {
	db   *badger.DB
	disk *volume.Guard
	mem  sync.Map // string(hash) → memSession
}

type memSession struct {
	value   []byte
	expires time.Time
}

// ErrNoSession is returned for a session that does not exist or expired.
var ErrNoSession = errors.New("no such session")

func newSessions(db *badger.DB, disk *volume.Guard) *Sessions {
	return &Sessions{db: db, disk: disk}
}

func sessKey(hash []byte) []byte { return append([]byte("sess\x00"), hash...) }

// Put keeps session under hash until expires.
func (s *Sessions) Put(_ context.Context, hash, session []byte, expires time.Time) error {
	if s.disk.Low() {
		s.mem.Store(string(hash), memSession{value: session, expires: expires})
		return nil
	}
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(sessKey(hash), session).WithTTL(time.Until(expires)))
	})
}

// Get returns the session kept under hash, or ErrNoSession.
func (s *Sessions) Get(_ context.Context, hash []byte) ([]byte, error) {
	if v, ok := s.mem.Load(string(hash)); ok {
		m := v.(memSession)
		if !time.Now().Before(m.expires) {
			return nil, ErrNoSession
		}
		return m.value, nil
	}
	var session []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(sessKey(hash))
		if err != nil {
			return err
		}
		session, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNoSession
	}
	return session, err
}

// Delete ends the session kept under hash.
func (s *Sessions) Delete(_ context.Context, hash []byte) error {
	if s.disk.Low() {
		// Deleting from the store would be a write: an expired session in
		// memory hides the stored one until the process ends (and the
		// stored one's TTL ends it for good).
		s.mem.Store(string(hash), memSession{})
		return nil
	}
	s.mem.Delete(string(hash))
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(sessKey(hash)) })
}
