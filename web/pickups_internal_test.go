package web

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestKgToGrams(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"2", 2000, false},
		{"1.5", 1500, false},
		{"0.25", 250, false},
		{".5", 500, false},
		{"0.001", 1, false},
		{"-2", -2000, false}, // the domain refuses it with its own message
		{"", 0, false},
		{"1.2345", 0, true},
		{"1,5", 0, true},
		{"abc", 0, true},
		{"12345678", 0, true},
		{".", 0, true},
	}
	for _, c := range cases {
		got, err := kgToGrams("weight_kg", c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("kgToGrams(%q) = %d, %v; want %d, bad %v", c.in, got, err, c.want, c.bad)
		}
	}
	for _, g := range []int64{1500, 2000, 1, 250} {
		back, err := kgToGrams("w", kgText(g))
		if err != nil || back != g {
			t.Errorf("kgText(%d) = %q reads back as %d, %v", g, kgText(g), back, err)
		}
	}
}

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

// TestChartEscapes: labels are text in the SVG, never markup.
func TestChartEscapes(t *testing.T) {
	c := chart{Title: `<b>"t"</b>`, Categories: []string{`<script>alert(1)</script>`, "br-2"},
		Series: []series{{Name: "a&b", Values: []int64{3, 0}}}}
	for _, svg := range []string{string(c.HBars()), string(c.VBars())} {
		if strings.Contains(svg, "<script>") || strings.Contains(svg, `<b>`) || !strings.Contains(svg, "&lt;script&gt;") {
			t.Fatalf("unescaped chart:\n%s", svg)
		}
		if !strings.HasPrefix(svg, "<svg") || strings.Contains(svg, "style=") {
			t.Fatalf("chart is not a styled-by-class SVG:\n%s", svg)
		}
	}
}

// TestPickupsChanged: the event reaches a subscriber of both its own topic
// and the pickups topic once, with the ids as JSON.
func TestPickupsChanged(t *testing.T) {
	b := NewBroker()
	s := &Server{cfg: Config{Broker: b, Log: slog.Default()}}
	ch, done := b.Subscribe("user:li", pickupsTopic)
	defer done()
	s.PickupsChanged("01A", "01B")
	b.Publish("user:li", Event{Name: "call.ring", Data: "{}"})
	var got []Event
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
