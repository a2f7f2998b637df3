package pickup_test

import (
	"errors"
	"testing"

	"branchline/crm/pickup"
	"branchline/replication"
)

// TestNotifyCourier checks the dispatch-notice decision: a notice is due
// for an assigned pickup of the branch whose courier has an extension that
// takes messages, once; the message carries DispatchText to the courier's
// extension and comes first, with the notified state in the same
// command.
func TestNotifyCourier(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	c.fixture(0)
	id, _ := c.book(0, input()) // assigned to li, extension 8101
	msgID := newID()
	type sent struct{ ext, text string }
	var got []sent
	messenger := func(ok bool, err error) pickup.Messenger {
		return func(_ replication.Tx, ext, text string) (replication.Draft, bool, error) {
			got = append(got, sent{ext, text})
			return replication.Draft{Kind: "test.message", Entity: "message/" + msgID}, ok, err
		}
	}
	decide := func(branch string, send pickup.Messenger) ([]replication.Draft, error) {
		got = nil
		return pickup.NotifyCourier(c.views(0), branch, id, msgID, send)
	}

	for _, tc := range []struct {
		name   string
		branch string
		ok     bool
		err    error
		drafts int
		asked  bool
	}{
		{"another branch's pickup", "bj-haidian", true, nil, 0, false},
		{"the extension takes no messages", "sh-pudong", false, nil, 0, true},
		{"the message cannot be queued", "sh-pudong", true, errors.New("disk full"), 0, true},
		{"due", "sh-pudong", true, nil, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := decide(tc.branch, messenger(tc.ok, tc.err))
			if !errors.Is(err, tc.err) || len(ds) != tc.drafts || (len(got) == 1) != tc.asked {
				t.Fatalf("drafts %d, err %v, messages asked %v; want %d, %v, %v", len(ds), err, got, tc.drafts, tc.err, tc.asked)
			}
			if tc.asked && (got[0].ext != "8101" || got[0].text != pickup.DispatchText(*c.get(0, id))) {
				t.Fatalf("message %+v", got[0])
			}
			if tc.drafts == 2 && (ds[0].Kind != "test.message" || ds[1].Kind != pickup.KindNotified) {
				t.Fatalf("drafts %s, %s: the message first, then the notified state", ds[0].Kind, ds[1].Kind)
			}
		})
	}

	// Once notified, no further notice is due.
	c.must(0, "system", func(v replication.Tx) ([]replication.Draft, error) {
		ds, err := pickup.NotifyCourier(v, "sh-pudong", id, msgID, messenger(true, nil))
		if err != nil || len(ds) != 2 {
			return nil, err
		}
		return ds[1:], nil // the message itself is the phone system's
	})
	if p := c.get(0, id); pickup.NeedsNotice(p, "sh-pudong") || p.MessageID != msgID {
		t.Fatalf("after the notice: status %s, message %q", p.Status, p.MessageID)
	}
	if ds, err := decide("sh-pudong", messenger(true, nil)); err != nil || len(ds) != 0 || len(got) != 0 {
		t.Fatalf("a second notice: %d drafts, %v", len(ds), err)
	}

	// A courier without an extension is not messaged.
	id2, _ := c.book(0, input())
	if !pickup.NeedsNotice(c.get(0, id2), "sh-pudong") {
		t.Fatalf("the second pickup is %s, not assigned", c.get(0, id2).Status)
	}
	c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.SetCourier(v, pickup.Courier{User: c.get(0, id2).Courier, Name: "x", OnDuty: true, Zones: []string{"pudong"}})
	})
	got = nil
	if ds, err := pickup.NotifyCourier(c.views(0), "sh-pudong", id2, newID(), messenger(true, nil)); err != nil || len(ds) != 0 || len(got) != 0 {
		t.Fatalf("courier without extension: %d drafts, %v, asked %v", len(ds), err, got)
	}
}
