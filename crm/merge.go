package crm

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
)

// KindCustomerMerged is the event of merging duplicate customers
// (查重/合并); its entity is the winner.
const KindCustomerMerged = "crm.customer.merged"

// Merges (ARCHITECTURE.md, merge rule 5) in detail.
//
// Every merge event is kept as an edge loser → winner, stamped with the
// event's (hlc, origin). The ids joined by edges form a merge group, and
// the group's representative is found by replaying its edges in stamp
// order with union-find, each edge hanging the loser's root under the
// winner's root unless both already share a root. The representative is
// therefore a function of the set of merge events alone: a merge whose
// winner already resolves to its loser (a cycle, X into Y here while Y
// into X there) joins nothing new, and two merges of one loser into two
// winners join all three. Every other id of the group redirects straight
// to the representative (crm\0redirect\0id, read by Resolve).
//
// A group's data lives at its representative: every applier keyed by a
// customer id resolves it first, and when a merge changes the
// representative, the old representatives' records, contacts and
// timelines move to the new one, folding registers by their stamps. So an
// edit addressed to the loser lands on the winner whether it arrives
// before the merge (and is folded in) or after (and is redirected), and
// every replica ends with the same data at the same place.
//
// The fold alone would take, for each field, the later of the two
// records' writes, which may not be what the user chose on the merge
// screen. The merge event therefore carries, as writes at its own stamp,
// exactly the fields where the fold would differ from the choice. An edit
// concurrent with the merge wins over these when its stamp is later, like
// any concurrent write. The merge also writes the representative's recycle
// bin register "alive" at its stamp: a delete of either customer that the
// merging user had not seen and that is older than the merge loses; a
// later one wins.
//
//	crm \0 medge \0 id \0 hlc(16 hex) \0 origin -> loser \0 winner (under both ids)
func mergeEdgeKey(id string, s replication.Stamp) []byte {
	return replication.Key("crm", "medge", id, fmt.Sprintf("%016x", uint64(s.HLC)), s.Origin)
}

func mergeEdgesPrefix(id string) []byte { return replication.Prefix("crm", "medge", id) }

type mergeEdge struct {
	stamp         replication.Stamp
	loser, winner string
}

// MergeCustomers decides the event that merges customer loser into
// customer winner. chosen holds the values the merged customer takes, by
// field name (built-in or "custom.<key>"); a field not chosen keeps the
// winner's value, or the loser's where the winner has none. The loser's
// contacts, timeline and phone numbers go to the winner, and its id
// redirects to the winner from then on.
func MergeCustomers(views replication.Tx, winner, loser string, chosen map[string]string) (replication.Draft, error) {
	var none replication.Draft
	if !replication.ValidULID(winner) {
		return none, fault.Invalidf("winner", "bad_id", "%q is not a customer id", winner)
	}
	if !replication.ValidULID(loser) {
		return none, fault.Invalidf("loser", "bad_id", "%q is not a customer id", loser)
	}
	if winner == loser {
		return none, fault.Invalidf("loser", "same_customer", "a customer cannot be merged into itself")
	}
	w, err := mergeParty(views, "winner", winner)
	if err != nil {
		return none, err
	}
	l, err := mergeParty(views, "loser", loser)
	if err != nil {
		return none, err
	}
	if w.ID == l.ID {
		return none, fault.Invalidf("loser", "cycle", "%s and %s are already one customer", winner, loser)
	}
	vals, err := normalizeAll(views, chosen)
	if err != nil {
		return none, err
	}
	choice := map[string]string{}
	for _, fv := range vals {
		choice[fv.GetField()] = fv.GetValue()
	}
	wrec, err := readRecord(views, winner)
	if err != nil {
		return none, err
	}
	lrec, err := readRecord(views, loser)
	if err != nil {
		return none, err
	}
	wr, lr := wrec.fields, lrec.fields
	var names []string
	for n := range wr {
		names = append(names, n)
	}
	for n := range lr {
		names = append(names, n)
	}
	for n := range choice {
		names = append(names, n)
	}
	var writes []*eventv1.FieldValue
	for _, n := range SortFieldNames(names) {
		want, ok := choice[n]
		if !ok {
			want = string(wr[n].Value)
			if want == "" {
				want = string(lr[n].Value)
			}
		}
		fold := wr[n]
		if r, ok := lr[n]; ok && r.Stamp.After(fold.Stamp) {
			fold = r
		}
		if string(fold.Value) != want {
			writes = append(writes, &eventv1.FieldValue{Field: n, Value: want})
		}
	}
	return replication.Draft{Kind: KindCustomerMerged, Entity: Entity(winner), Body: &crmv1.CustomerMerged{Loser: loser, Fields: writes}}, nil
}

// mergeParty reads one side of a merge: it must exist, be its own
// representative and not be in the recycle bin.
func mergeParty(views replication.Tx, role, id string) (*Customer, error) {
	c, err := GetCustomer(views, id)
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return nil, fault.Invalidf(role, "not_found", "customer %s does not exist", id)
		}
		return nil, err
	}
	if c.MergedFrom != "" {
		return nil, fault.Invalidf(role, "merged", "customer %s was merged into %s", id, c.ID)
	}
	if c.Deleted {
		return nil, fault.Invalidf(role, "deleted", "customer %s is in the recycle bin", id)
	}
	return c, nil
}

// SortFieldNames orders distinct field names: built-in fields in Fields
// order, then custom fields by key.
func SortFieldNames(names []string) []string {
	rank := func(n string) int {
		if i := slices.IndexFunc(Fields, func(f Field) bool { return f.Name == n }); i >= 0 {
			return i
		}
		return len(Fields)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(names)
}

func checkMerged(ev *replication.Event, b *crmv1.CustomerMerged) error {
	winner, ok := entityID(ev)
	if !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	if !replication.ValidULID(b.GetLoser()) {
		return fault.Invalidf("loser", "bad_id", "%q is not a customer id", b.GetLoser())
	}
	if b.GetLoser() == winner {
		return fault.Invalidf("loser", "same_customer", "a customer cannot be merged into itself")
	}
	return checkFields(b.GetFields())
}

func applyMerged(tx replication.Tx, ev *replication.Event, b *crmv1.CustomerMerged) error {
	winner, ok := entityID(ev)
	loser := b.GetLoser()
	if !ok || !replication.ValidULID(loser) || loser == winner {
		return nil
	}
	stamp := replication.StampOf(ev)
	var old []string // where the two groups' data is now
	for _, id := range []string{winner, loser} {
		r, err := Resolve(tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(old, r) {
			old = append(old, r)
		}
	}
	edge := []byte(loser + "\x00" + winner)
	for _, id := range []string{winner, loser} {
		if err := tx.Set(mergeEdgeKey(id, stamp), edge); err != nil {
			return err
		}
	}
	members, edges, err := mergeGroup(tx, loser)
	if err != nil {
		return err
	}
	rep := representative(edges, loser)
	for _, m := range members {
		if m == rep {
			if err := tx.Delete(redirectKey(m)); err != nil {
				return err
			}
		} else if err := tx.Set(redirectKey(m), []byte(rep)); err != nil {
			return err
		}
	}
	for _, o := range old {
		if o != rep {
			if err := moveRecord(tx, o, rep); err != nil {
				return err
			}
			// Points, balances and coupons follow the customer (member.go).
			if err := moveMembership(tx, o, rep); err != nil {
				return err
			}
		}
	}
	if err := setFields(tx, rep, ev, b.GetFields()); err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, binStateKey(rep), append([]byte{'A'}, ev.Actor...), stamp); err != nil {
		return err
	}
	return AddTimeline(tx, rep, EntryFor(ev, TimelineMerged, loser+" → "+winner, loser))
}

// mergeGroup finds the ids joined to start by merge edges, and the edges.
func mergeGroup(tx replication.Tx, start string) (members []string, edges []mergeEdge, err error) {
	seen := map[string]bool{start: true}
	seenEdge := map[replication.Stamp]bool{}
	queue := []string{start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		members = append(members, id)
		p := mergeEdgesPrefix(id)
		err := tx.Scan(p, nil, func(k, v []byte) (bool, error) {
			hlcHex, origin, _ := strings.Cut(string(k[len(p):]), "\x00")
			var hlc uint64
			if _, err := fmt.Sscanf(hlcHex, "%016x", &hlc); err != nil {
				return false, fmt.Errorf("merge edge %q: %w", k, err)
			}
			l, w, _ := strings.Cut(string(v), "\x00")
			s := replication.Stamp{HLC: replication.HLC(hlc), Origin: origin}
			if !seenEdge[s] {
				seenEdge[s] = true
				edges = append(edges, mergeEdge{stamp: s, loser: l, winner: w})
			}
			for _, x := range []string{l, w} {
				if !seen[x] {
					seen[x] = true
					queue = append(queue, x)
				}
			}
			return true, nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	slices.Sort(members)
	return members, edges, nil
}

// representative replays a group's merge edges in stamp order (see the
// comment on merges) and returns the root of start.
func representative(edges []mergeEdge, start string) string {
	slices.SortFunc(edges, func(a, b mergeEdge) int {
		switch {
		case a.stamp.After(b.stamp):
			return 1
		case b.stamp.After(a.stamp):
			return -1
		}
		return 0
	})
	parent := map[string]string{}
	root := func(x string) string {
		for parent[x] != "" {
			x = parent[x]
		}
		return x
	}
	for _, e := range edges {
		if rl, rw := root(e.loser), root(e.winner); rl != rw {
			parent[rl] = rw
		}
	}
	return root(start)
}

// moveRecord folds everything kept under from (its record, contacts and
// timeline) into to, and deletes it under from. Registers fold by their
// stamps; a contact removed on either side stays removed.
func moveRecord(tx replication.Tx, from, to string) error {
	for _, p := range [][2][]byte{
		{customerRecordPrefix(from), customerRecordPrefix(to)},
		{contactsPrefix(from), contactsPrefix(to)},
	} {
		var keys, vals [][]byte
		if err := tx.Scan(p[0], nil, func(k, v []byte) (bool, error) {
			keys, vals = append(keys, slices.Clone(k)), append(vals, slices.Clone(v))
			return true, nil
		}); err != nil {
			return err
		}
		for i, k := range keys {
			r, err := replication.DecodeRegister(vals[i])
			if err != nil {
				return fmt.Errorf("move %q: %w", k, err)
			}
			dst := append(slices.Clip(p[1]), k[len(p[0]):]...)
			if _, _, err := replication.SetRegister(tx, dst, r.Value, r.Stamp); err != nil {
				return err
			}
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
	}
	var removed []string
	p := contactsPrefix(to)
	if err := tx.Scan(p, nil, func(k, _ []byte) (bool, error) {
		if ct, rest, _ := strings.Cut(string(k[len(p):]), "\x00"); rest == "x" {
			removed = append(removed, ct)
		}
		return true, nil
	}); err != nil {
		return err
	}
	for _, ct := range removed {
		if err := dropContactData(tx, to, ct); err != nil {
			return err
		}
	}
	return moveTimeline(tx, from, to)
}
