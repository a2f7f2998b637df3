package crm

import (
	"errors"

	"branchline/replication"
)

// Identity rule (ARCHITECTURE.md, merge rule 5): merging duplicate
// customers redirects the loser's id to the winner, and every later event
// addressed to the loser applies to the winner. Appliers of any kind keyed
// by customer id resolve the id first.
//
//	crm \0 redirect \0 loser   winner id
func redirectKey(id string) []byte { return replication.Key("crm", "redirect", id) }

// maxRedirects bounds redirect chains (a merged into b, b into c, …).
const maxRedirects = 64

// Resolve returns the id that customer id stands for now: id itself, or the
// customer it was merged into, following chains of merges.
func Resolve(views replication.Tx, id string) (string, error) {
	for range maxRedirects {
		b, err := views.Get(redirectKey(id))
		if errors.Is(err, replication.ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
		id = string(b)
	}
	return id, nil
}
