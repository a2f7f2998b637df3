package replication

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"pgregory.net/rapid"
)

func sampleEvent() *Event {
	return &Event{
		Origin: "sh-pudong", Seq: 42, HLC: MakeHLC(1_790_000_000_000, 3),
		Kind: "crm.customer.field_set", Entity: "customer/01J000000000000000000000AA",
		Actor: "alice", Body: []byte{0x0a, 0x03, 'a', 'b', 'c'},
	}
}

func sameEvent(a, b *Event) bool {
	return a.Origin == b.Origin && a.Seq == b.Seq && a.HLC == b.HLC && a.Kind == b.Kind &&
		a.Entity == b.Entity && a.Actor == b.Actor && bytes.Equal(a.Body, b.Body)
}

func TestEventMarshalRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		ev   *Event
	}{
		{"full", sampleEvent()},
		{"empty body and actor", &Event{Origin: "hub", Seq: 1, HLC: 1, Kind: "k"}},
		{"zero event", &Event{}},
		{"unicode entity", &Event{Origin: "gz-tianhe", Seq: 1 << 60, HLC: MaxHLC, Kind: "k", Entity: "客户/１"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.ev.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalEvent(b)
			if err != nil {
				t.Fatal(err)
			}
			if !sameEvent(got, c.ev) {
				t.Fatalf("round trip: %+v, want %+v", got, c.ev)
			}
		})
	}
}

func TestUnmarshalEventRefusesGarbage(t *testing.T) {
	good, _ := sampleEvent().Marshal()
	cases := []struct {
		name string
		b    []byte
	}{
		{"truncated", good[:len(good)-2]},
		{"bad wire type", []byte{0x0f}},
		{"length beyond end", []byte{0x0a, 0x7f, 'a'}},
		{"invalid utf-8 in origin", protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if ev, err := UnmarshalEvent(c.b); err == nil {
				t.Fatalf("decoded %+v from garbage", ev)
			}
		})
	}
}

// FuzzUnmarshalEvent: decoding never panics, and whatever decodes
// re-encodes to bytes that decode to the same event and encode again to
// the same bytes (the encoding stores and the hub compare is stable).
func FuzzUnmarshalEvent(f *testing.F) {
	good, _ := sampleEvent().Marshal()
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)/2])
	f.Add(protowire.AppendVarint(protowire.AppendTag(slices.Clone(good), 99, protowire.VarintType), 7)) // unknown field
	f.Add([]byte{0x0a, 0x7f, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := UnmarshalEvent(b)
		if err != nil {
			return
		}
		_ = ev.String()
		_ = ev.Validate()
		enc, err := ev.Marshal()
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		again, err := UnmarshalEvent(enc)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if !sameEvent(ev, again) {
			t.Fatalf("round trip changed the event: %+v -> %+v", ev, again)
		}
		enc2, err := again.Marshal()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %x vs %x (%v)", enc, enc2, err)
		}
	})
}

func TestEventValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Event)
		ok     bool
	}{
		{"good", func(*Event) {}, true},
		{"bad origin", func(e *Event) { e.Origin = "SH" }, false},
		{"origin starting with dash", func(e *Event) { e.Origin = "-sh" }, false},
		{"seq zero", func(e *Event) { e.Seq = 0 }, false},
		{"hlc zero", func(e *Event) { e.HLC = 0 }, false},
		{"hlc after 9999", func(e *Event) { e.HLC = MaxHLC + 1 }, false},
		{"no kind", func(e *Event) { e.Kind = "" }, false},
		{"long kind", func(e *Event) { e.Kind = strings.Repeat("k", MaxKindLen+1) }, false},
		{"long entity", func(e *Event) { e.Entity = strings.Repeat("e", MaxEntity+1) }, false},
		{"long actor", func(e *Event) { e.Actor = strings.Repeat("a", 2*MaxIDLen+1) }, false},
		{"big body", func(e *Event) { e.Body = make([]byte, MaxBody+1) }, false},
		{"body at the limit", func(e *Event) { e.Body = make([]byte, MaxBody) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := sampleEvent()
			c.change(ev)
			if err := ev.Validate(); (err == nil) != c.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, c.ok)
			}
		})
	}
}

func TestRegisterEncoding(t *testing.T) {
	cases := []struct {
		name  string
		value []byte
		stamp Stamp
	}{
		{"empty value (a clear)", nil, Stamp{HLC: 1, Origin: "sh-pudong"}},
		{"value with NULs", []byte("a\x00b\x00"), Stamp{HLC: MaxHLC, Origin: "bj-chaoyang"}},
		{"empty origin", []byte("v"), Stamp{HLC: 7}},
		{"longest origin", []byte("v"), Stamp{HLC: 7, Origin: strings.Repeat("o", MaxIDLen)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := encodeRegister(c.value, c.stamp)
			r, err := DecodeRegister(b)
			if err != nil {
				t.Fatal(err)
			}
			if r.Stamp != c.stamp || !bytes.Equal(r.Value, c.value) {
				t.Fatalf("decoded %+v, want %q %+v", r, c.value, c.stamp)
			}
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, 8), append(make([]byte, 8), 5, 'a', 'b')} {
		if r, err := DecodeRegister(bad); !errors.Is(err, errBadRegister) {
			t.Errorf("DecodeRegister(%x) = %+v, %v; want errBadRegister", bad, r, err)
		}
	}
}

// FuzzDecodeRegister: decoding never panics; what decodes encodes back to
// exactly the input, and the register does not alias the input buffer
// (a Scan's value is only valid until the next call).
func FuzzDecodeRegister(f *testing.F) {
	f.Add(encodeRegister([]byte("+8613800138000"), Stamp{HLC: MakeHLC(1_790_000_000_000, 1), Origin: "sh-pudong"}))
	f.Add(encodeRegister(nil, Stamp{HLC: 1}))
	f.Add([]byte{})
	f.Add(append(make([]byte, 8), 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRegister(b)
		if err != nil {
			if len(b) >= 9 && len(b) >= 9+int(b[8]) {
				t.Fatalf("refused a well-formed register %x: %v", b, err)
			}
			return
		}
		if got := encodeRegister(r.Value, r.Stamp); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, input %x", got, b)
		}
		want := slices.Clone(r.Value)
		for i := range b {
			b[i] ^= 0xff
		}
		if !bytes.Equal(r.Value, want) {
			t.Fatal("the decoded value aliases the input")
		}
	})
}

func TestKeyPrefixLastPart(t *testing.T) {
	cases := []struct {
		name   string
		parts  []string
		key    string
		prefix string
		last   string
	}{
		{"none", nil, "", "\x00", ""},
		{"one", []string{"crm"}, "crm", "crm\x00", "crm"},
		{"three", []string{"crm", "cust", "01J"}, "crm\x00cust\x0001J", "crm\x00cust\x0001J\x00", "01J"},
		{"empty last part", []string{"a", ""}, "a\x00", "a\x00\x00", ""},
		{"empty first part", []string{"", "b"}, "\x00b", "\x00b\x00", "b"},
		{"unicode", []string{"客户", "电话"}, "客户\x00电话", "客户\x00电话\x00", "电话"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(Key(c.parts...)); got != c.key {
				t.Errorf("Key = %q, want %q", got, c.key)
			}
			if got := string(Prefix(c.parts...)); got != c.prefix {
				t.Errorf("Prefix = %q, want %q", got, c.prefix)
			}
			if got := LastPart(Key(c.parts...)); got != c.last {
				t.Errorf("LastPart = %q, want %q", got, c.last)
			}
			if got := LastPart(Prefix(c.parts...)); got != "" {
				t.Errorf("LastPart(Prefix) = %q, want empty", got)
			}
		})
	}
	// Key must not alias the caller's strings or a previous key.
	k := Key("a", "b")
	p := Prefix("a", "b")
	k[0] = 'z'
	if string(p) != "a\x00b\x00" {
		t.Errorf("Prefix shares memory with Key: %q", p)
	}
}

// The key of a thing is a prefix of nothing but the keys of its own parts:
// Prefix(p...) starts Key(q...) exactly when p is a proper leading run of
// q's parts. (Customer "ab" must not see the fields of customer "abc".)
func TestPrefixSelectsOnlyOwnParts(t *testing.T) {
	part := rapid.StringMatching(`[a-c]{0,3}`)
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.SliceOfN(part, 1, 3).Draw(t, "p")
		q := rapid.SliceOfN(part, 1, 4).Draw(t, "q")
		if rapid.Bool().Draw(t, "share") {
			q = append(slices.Clone(p), q...) // make them related often
		}
		want := len(q) > len(p) && slices.Equal(q[:len(p)], p)
		if got := bytes.HasPrefix(Key(q...), Prefix(p...)); got != want {
			t.Fatalf("Prefix(%q) starts Key(%q) = %v, want %v", p, q, got, want)
		}
		if got := LastPart(Key(q...)); got != q[len(q)-1] {
			t.Fatalf("LastPart(Key(%q)) = %q", q, got)
		}
	})
}

var errTooShort = errors.New("value too short")

func checkRegistry() *Registry {
	r := NewRegistry()
	Handle(r, "test.checked", func(tx Tx, ev *Event, b *wrapperspb.StringValue) error {
		return tx.Set(Key("s", ev.Entity), []byte(b.GetValue()))
	}, func(ev *Event, b *wrapperspb.StringValue) error {
		if len(b.GetValue()) < 2 {
			return errTooShort
		}
		return nil
	})
	Handle(r, "test.unchecked", func(tx Tx, ev *Event, b *wrapperspb.StringValue) error {
		return tx.Set(Key("u", ev.Entity), []byte(b.GetValue()))
	}, nil)
	return r
}

func stringBody(s string) []byte {
	b, err := proto.Marshal(wrapperspb.String(s))
	if err != nil {
		panic(err)
	}
	return b
}

func TestRegistryCheck(t *testing.T) {
	reg := checkRegistry()
	ev := func(kind string, body []byte) *Event {
		return &Event{Origin: "sh-pudong", Seq: 1, HLC: 1, Kind: kind, Entity: "e", Body: body}
	}
	cases := []struct {
		name    string
		ev      *Event
		ok      bool
		wantErr error // if set, errors.Is must hold
	}{
		{"good", ev("test.checked", stringBody("abc")), true, nil},
		{"good without a check", ev("test.unchecked", stringBody("")), true, nil},
		{"empty body decodes as the zero message", ev("test.unchecked", nil), true, nil},
		{"unknown kind", ev("test.nope", stringBody("abc")), false, ErrUnknownKind},
		{"undecodable body", ev("test.checked", []byte{0xff, 0xff}), false, nil},
		{"body with invalid utf-8", ev("test.unchecked", protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xc3")), false, nil},
		{"kind's check refuses", ev("test.checked", stringBody("a")), false, errTooShort},
		{"bad envelope", &Event{Origin: "sh-pudong", Kind: "test.checked", Body: stringBody("abc")}, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := reg.Check(c.ev)
			if (err == nil) != c.ok {
				t.Fatalf("Check = %v, want ok %v", err, c.ok)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("Check = %v, want %v in its chain", err, c.wantErr)
			}
			if !c.ok && c.wantErr != ErrUnknownKind && errors.Is(err, ErrUnknownKind) {
				t.Fatalf("Check = %v: a known kind reported unknown", err)
			}
		})
	}
	if got := reg.Kinds(); !slices.Equal(got, []string{"test.checked", "test.unchecked"}) {
		t.Errorf("Kinds() = %v", got)
	}
}

func TestHandleTwicePanics(t *testing.T) {
	reg := checkRegistry()
	defer func() {
		if recover() == nil {
			t.Fatal("registering a kind twice did not panic")
		}
	}()
	Handle(reg, "test.checked", func(Tx, *Event, *wrapperspb.StringValue) error { return nil }, nil)
}

// A protocol mismatch names the side to upgrade, whichever side finds it.
func TestProtocolError(t *testing.T) {
	cases := []struct {
		me, peer string
		proto    uint32
		want     string // "" for no error
	}{
		{"hub", "node sh-pudong", Protocol, ""},
		{"hub", "node sh-pudong", 0, ""}, // a node of the release before versions
		{"hub", "node sh-pudong", Protocol + 1, "upgrade the hub"},
		{"node", "hub http://h1", Protocol + 1, "upgrade the node"},
		{"node", "hub http://h1", MinProtocol, ""},
	}
	if MinProtocol > 1 {
		cases = append(cases, struct {
			me, peer string
			proto    uint32
			want     string
		}{"hub", "node sh-pudong", MinProtocol - 1, "upgrade node sh-pudong"})
	}
	for _, c := range cases {
		err := ProtocolError(c.me, c.peer, c.proto)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s serving %s at %d: %v", c.me, c.peer, c.proto, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s serving %s at %d: %v, want %q", c.me, c.peer, c.proto, err, c.want)
		}
	}
}
