package crm

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Kinds of timeline entries made by this package. Other modules add their
// own ("call.answered", "pickup.created", …) through AddTimeline.
const (
	TimelineCreated        = "customer.created"
	TimelineFieldsSet      = "customer.fields_set"
	TimelineNote           = "customer.note"
	TimelineDeleted        = "customer.deleted"
	TimelineRestored       = "customer.restored"
	TimelineMerged         = "customer.merged"
	TimelineContactAdded   = "contact.added"
	TimelineContactUpdated = "contact.updated"
	TimelineContactRemoved = "contact.removed"
)

// KindNoteAdded is the event of a note on a customer.
const KindNoteAdded = "crm.customer.note_added"

// MaxNoteLen bounds a note, in characters.
const MaxNoteLen = 2000

// TimelineEntry is one thing that happened to a customer, shown on its
// timeline in HLC order.
type TimelineEntry struct {
	Kind    string          // what happened: "customer.note", "call.answered", …
	HLC     replication.HLC // when
	Origin  string          // the node where it happened
	Seq     uint64          // with Origin and Kind, tells entries apart
	Actor   string          // who did it
	Summary string          // short text: the note, the fields changed, …
	Ref     string          // what it is about: a contact, an order number, …
}

// EntryFor returns a timeline entry stamped with ev's time, place and
// actor: what appliers pass to AddTimeline.
func EntryFor(ev *replication.Event, kind, summary, ref string) TimelineEntry {
	return TimelineEntry{Kind: kind, HLC: ev.HLC, Origin: ev.Origin, Seq: ev.Seq, Actor: ev.Actor, Summary: summary, Ref: ref}
}

//	crm \0 tl \0 customer \0 hlc(16 hex) \0 origin \0 seq(16 hex) \0 kind -> TimelineRecord
//
// The key is made of the entry's identity only, so an entry written twice,
// or moved by a merge, stays one entry, and entries sort by HLC.
func timelinePrefix(id string) []byte { return replication.Prefix("crm", "tl", id) }

func timelineKey(id string, e TimelineEntry) []byte {
	return replication.Key("crm", "tl", id, fmt.Sprintf("%016x", uint64(e.HLC)), e.Origin, fmt.Sprintf("%016x", e.Seq), e.Kind)
}

// AddTimeline records an entry on the timeline of customer id (resolved
// first, so that entries follow merges). Appliers of any kind call it from
// their apply function: it writes only a key made of the entry's identity,
// so it is idempotent and commutes with every other write. Entries with an
// empty or malformed kind or origin are ignored; the summary is cut to
// MaxNoteLen characters.
func AddTimeline(tx replication.Tx, id string, e TimelineEntry) error {
	if !replication.ValidULID(id) {
		return nil
	}
	rep, err := Resolve(tx, id)
	if err != nil {
		return err
	}
	return addTimeline(tx, rep, e)
}

// addTimeline is AddTimeline for an id already resolved.
func addTimeline(tx replication.Tx, rep string, e TimelineEntry) error {
	if !replication.ValidULID(rep) || e.Kind == "" || len(e.Kind) > 64 || strings.ContainsRune(e.Kind, 0) ||
		!replication.ValidNodeID(e.Origin) {
		return nil
	}
	summary := strings.ToValidUTF8(e.Summary, "\uFFFD")
	if utf8.RuneCountInString(summary) > MaxNoteLen {
		summary = string([]rune(summary)[:MaxNoteLen])
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&crmv1.TimelineRecord{
		Kind: e.Kind, Hlc: uint64(e.HLC), Origin: e.Origin, Seq: e.Seq,
		Actor: strings.ToValidUTF8(e.Actor, ""), Summary: summary, Ref: strings.ToValidUTF8(e.Ref, ""),
	})
	if err != nil {
		return err
	}
	return tx.Set(timelineKey(rep, e), b)
}

// Timeline reads a page of the timeline of customer id, oldest first or
// newest first, after the page token a previous page returned. next is
// empty on the last page.
func Timeline(views replication.Tx, id, token string, limit int, newestFirst bool) (entries []TimelineEntry, next string, err error) {
	c, err := GetCustomer(views, id)
	if err != nil {
		return nil, "", err
	}
	var after []byte
	if token != "" {
		if after, err = hex.DecodeString(token); err != nil {
			return nil, "", fault.Invalidf("page_token", "bad_token", "not a page token of this timeline")
		}
	}
	type kv struct {
		k []byte
		e TimelineEntry
	}
	var all []kv
	p := timelinePrefix(c.ID)
	err = views.Scan(p, nil, func(k, v []byte) (bool, error) {
		var r crmv1.TimelineRecord
		if err := proto.Unmarshal(v, &r); err != nil {
			return false, fmt.Errorf("timeline of %s: %w", c.ID, err)
		}
		all = append(all, kv{slices.Clone(k[len(p):]), TimelineEntry{
			Kind: r.GetKind(), HLC: replication.HLC(r.GetHlc()), Origin: r.GetOrigin(), Seq: r.GetSeq(),
			Actor: r.GetActor(), Summary: r.GetSummary(), Ref: r.GetRef(),
		}})
		return true, nil
	})
	if err != nil {
		return nil, "", err
	}
	if newestFirst {
		slices.Reverse(all)
	}
	i := 0
	if after != nil {
		i = slices.IndexFunc(all, func(x kv) bool { return string(x.k) == string(after) }) + 1
		if i == 0 {
			return nil, "", fault.Invalidf("page_token", "bad_token", "not a page token of this timeline")
		}
	}
	for ; i < len(all) && len(entries) < limit; i++ {
		entries = append(entries, all[i].e)
	}
	if i < len(all) && len(entries) > 0 {
		next = hex.EncodeToString(all[i-1].k)
	}
	return entries, next, nil
}

// AddNote decides the event that adds a note to customer id's timeline.
func AddNote(views replication.Tx, id, text string) (replication.Draft, error) {
	text = strings.TrimSpace(text)
	if err := checkNoteText(text); err != nil {
		return replication.Draft{}, err
	}
	c, err := liveCustomer(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindNoteAdded, Entity: Entity(c.ID), Body: &crmv1.CustomerNoteAdded{Text: text}}, nil
}

func checkNoteText(text string) error {
	switch {
	case !utf8.ValidString(text) || strings.ContainsRune(text, 0):
		return fault.Invalidf("text", "bad_text", "not valid UTF-8 text")
	case text == "":
		return fault.Invalidf("text", "required", "is required")
	case utf8.RuneCountInString(text) > MaxNoteLen:
		return fault.Invalidf("text", "too_long", "%d characters, at most %d", utf8.RuneCountInString(text), MaxNoteLen)
	}
	return nil
}

func checkNoteAdded(ev *replication.Event, b *crmv1.CustomerNoteAdded) error {
	if _, ok := entityID(ev); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	return checkNoteText(b.GetText())
}

func applyNoteAdded(tx replication.Tx, ev *replication.Event, b *crmv1.CustomerNoteAdded) error {
	id, ok := entityID(ev)
	if !ok {
		return nil
	}
	return AddTimeline(tx, id, EntryFor(ev, TimelineNote, b.GetText(), ""))
}

// moveTimeline moves every entry of from's timeline to to's.
func moveTimeline(tx replication.Tx, from, to string) error {
	p := timelinePrefix(from)
	var keys, vals [][]byte
	if err := tx.Scan(p, nil, func(k, v []byte) (bool, error) {
		keys, vals = append(keys, slices.Clone(k)), append(vals, slices.Clone(v))
		return true, nil
	}); err != nil {
		return err
	}
	dst := timelinePrefix(to)
	for i, k := range keys {
		if err := tx.Set(append(slices.Clip(dst), k[len(p):]...), vals[i]); err != nil {
			return err
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
