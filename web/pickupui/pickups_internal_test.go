package pickupui

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"branchline/web"
)

func TestFormFieldOf(t *testing.T) {
	for in, want := range map[string]string{
		"sender.name":       "sender_name",
		"receiver.phone":    "receiver_phone",
		"weight_grams":      "weight_kg",
		"price_fen":         "price_yuan",
		"amount_fen":        "amount_yuan",
		"rows[2].first_fen": "rows_2_first_fen",
		"zone":              "zone",
	} {
		if got := formFieldOf(in); got != want {
			t.Errorf("formFieldOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitItems(t *testing.T) {
	got := splitItems(" 浦东新区\n徐汇区，闵行区;  静安区、\r\n\n长宁区 ")
	if strings.Join(got, "|") != "浦东新区|徐汇区|闵行区|静安区|长宁区" {
		t.Fatalf("splitItems: %q", got)
	}
}

// TestPickupsChanged: the event reaches a subscriber of both its own topic
// and the pickups topic once, with the ids as JSON.
func TestPickupsChanged(t *testing.T) {
	b := web.NewBroker()
	s := New(Config{HeadOffice: true})
	if _, err := web.New(web.Config{Broker: b, Log: slog.Default(), Pages: []web.Pages{s}}); err != nil {
		t.Fatal(err)
	}
	ch, done := b.Subscribe("user:li", pickupsTopic)
	defer done()
	s.Changed("01A", "01B")
	b.Publish("user:li", web.Event{Name: "call.ring", Data: "{}"})
	var got []web.Event
	for len(got) < 2 {
		select {
		case ev := <-ch:
			got = append(got, ev)
		case <-time.After(time.Second):
			t.Fatalf("got %v", got)
		}
	}
	var ids []string
	if got[0].Name != "pickup.changed" || json.Unmarshal([]byte(got[0].Data), &ids) != nil || strings.Join(ids, ",") != "01A,01B" {
		t.Fatalf("pickup event %+v", got[0])
	}
	if got[1].Name != "call.ring" {
		t.Fatalf("user event %+v", got[1])
	}
	done()
	if n := b.Subscribers(pickupsTopic) + b.Subscribers("user:li"); n != 0 {
		t.Fatalf("%d subscriptions left after done", n)
	}
}
