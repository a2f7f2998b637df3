package node

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"branchline/volume"
	"branchline/web"
)

// sessions keeps web sessions in the node's Badger store, outside the
// replicated views: a session belongs to the node that issued it.
//
//	sess \0 sha256(id)   web.Session (JSON), with a Badger TTL
//
// While the data volume is full a new session is kept in memory instead,
// so that people can still log in to look things up; it ends with the
// process.
type sessions struct {
	db   *badger.DB
	disk *volume.Guard
	mem  *sync.Map // string(hash) → web.Session
}

func newSessions(db *badger.DB, disk *volume.Guard) sessions {
	return sessions{db: db, disk: disk, mem: &sync.Map{}}
}

func sessKey(hash []byte) []byte { return append([]byte("sess\x00"), hash...) }

func (s sessions) Put(_ context.Context, hash []byte, sess web.Session) error {
	if s.disk.Low() {
		s.mem.Store(string(hash), sess)
		return nil
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(sessKey(hash), b).WithTTL(time.Until(sess.Expires)))
	})
}

func (s sessions) Get(_ context.Context, hash []byte) (web.Session, error) {
	if v, ok := s.mem.Load(string(hash)); ok {
		sess := v.(web.Session)
		if time.Now().After(sess.Expires) {
			return web.Session{}, web.ErrNoSession
		}
		return sess, nil
	}
	var sess web.Session
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(sessKey(hash))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &sess) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return sess, web.ErrNoSession
	}
	return sess, err
}

func (s sessions) Delete(_ context.Context, hash []byte) error {
	if s.disk.Low() {
		// Deleting from the store would be a write: an expired session in
		// memory hides the stored one until the process ends (and the
		// stored one's TTL ends it for good).
		s.mem.Store(string(hash), web.Session{})
		return nil
	}
	s.mem.Delete(string(hash))
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(sessKey(hash)) })
}
