package crm_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
)

func TestTimelineAndNotes(t *testing.T) {
	b := newBook(t)
	id := b.create(map[string]string{"display_name": "客户"})
	b.update(id, map[string]string{"city": "上海", "note": "x"})
	b.apply(crm.AddNote(b.tx(), id, "  客户来电询问运费  "))
	ct := b.newID()
	b.apply(crm.AddContact(b.tx(), id, ct, map[string]string{"display_name": "王"}))
	// Another module's applier adds its own entry, stamped by its event.
	call := &replication.Event{Origin: "bj-chaoyang", Seq: 7, HLC: b.hlc + 1, Actor: "agent7"}
	mem := replication.WithPrefix(b.m, replication.ViewPrefix)
	// Malformed entries are ignored, not errors: appliers must be total.
	if err := crm.AddTimeline(mem, id, crm.TimelineEntry{}); err != nil {
		t.Fatal(err)
	}
	if err := crm.AddTimeline(mem, id, crm.EntryFor(call, "call.answered", "来电 3 分钟", "call/42")); err != nil {
		t.Fatal(err)
	}
	entries, next, err := crm.Timeline(b.tx(), id, "", 50, false)
	if err != nil || next != "" {
		t.Fatal(err, next)
	}
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e.Kind)
	}
	want := []string{crm.TimelineCreated, crm.TimelineFieldsSet, crm.TimelineNote, crm.TimelineContactAdded, "call.answered"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("timeline %v, want %v", kinds, want)
	}
	if entries[1].Summary != "city,note" || entries[2].Summary != "客户来电询问运费" || entries[2].Actor != "alice" || entries[4].Ref != "call/42" {
		t.Fatalf("entries %+v", entries)
	}
	// Newest first, two at a time.
	var got []string
	token := ""
	for {
		page, next, err := crm.Timeline(b.tx(), id, token, 2, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.Kind)
		}
		if next == "" {
			break
		}
		token = next
	}
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Fatalf("newest first %v, want %v", got, want)
	}
	if _, _, err := crm.Timeline(b.tx(), id, "zz", 2, false); !isInvalidErr(err) {
		t.Errorf("bad page token: %v", err)
	}

	for name, text := range map[string]string{"empty": " ", "too long": strings.Repeat("注", crm.MaxNoteLen+1), "bad utf-8": "\xff"} {
		d, err := crm.AddNote(b.tx(), id, text)
		if !isInvalidErr(err) || d.Body != nil {
			t.Errorf("note %s: %v, %+v", name, err, d)
		}
	}
	if _, err := crm.AddNote(b.tx(), b.newID(), "x"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("note on unknown customer: %v", err)
	}
}
