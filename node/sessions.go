package node

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"

	"branchline/web"
)

// sessions keeps web sessions in the node's Badger store, outside the
// replicated views: a session belongs to the node that issued it.
//
//	sess \0 sha256(id)   web.Session (JSON), with a Badger TTL
type sessions struct{ db *badger.DB }

func sessKey(hash []byte) []byte { return append([]byte("sess\x00"), hash...) }

func (s sessions) Put(_ context.Context, hash []byte, sess web.Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(sessKey(hash), b).WithTTL(time.Until(sess.Expires)))
	})
}

func (s sessions) Get(_ context.Context, hash []byte) (web.Session, error) {
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
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(sessKey(hash)) })
}
