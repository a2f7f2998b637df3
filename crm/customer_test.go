package crm_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// replica is one store's views in memory, with a single origin that runs
// commands the way node.Store does: decide on a draft by reading, stamp
// it, check it as the hub would, and apply it.
type replica struct {
	reg   *replication.Registry
	m     *reptest.Mem
	views *replication.Views
	seq   uint64
	hlc   replication.HLC
}

func newReplica(t *testing.T) *replica {
	t.Helper()
	reg := replication.NewRegistry()
	crm.RegisterCustomers(reg)
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &replica{reg: reg, m: m, views: v, hlc: replication.MakeHLC(reptest.BaseMillis, 0)}
}

// read is what commands and queries see.
func (r *replica) read() replication.Tx { return replication.ReadViews(r.m) }

// record stamps d as the next event of origin sh-pudong, checks it and
// applies it.
func (r *replica) record(t *testing.T, d replication.Draft) *replication.Event {
	t.Helper()
	body, err := proto.Marshal(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.seq++
	r.hlc++
	ev := &replication.Event{Origin: "sh-pudong", Seq: r.seq, HLC: r.hlc, Kind: d.Kind, Entity: d.Entity, Actor: "alice", Body: body}
	if err := r.reg.Check(ev); err != nil {
		t.Fatalf("the hub would refuse the event the command made: %v", err)
	}
	b := r.views.Begin(r.m)
	out, err := b.Apply(ev)
	if err != nil || out != replication.Applied {
		t.Fatalf("apply %s: outcome %d, %v", ev, out, err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	return ev
}

func (r *replica) create(t *testing.T, id string, fields map[string]string) {
	t.Helper()
	d, err := crm.CreateCustomer(r.read(), id, fields)
	if err != nil {
		t.Fatalf("CreateCustomer(%s): %v", id, err)
	}
	r.record(t, d)
}

func (r *replica) update(t *testing.T, id string, fields map[string]string) {
	t.Helper()
	d, ok, err := crm.UpdateCustomer(r.read(), id, fields)
	if err != nil || !ok {
		t.Fatalf("UpdateCustomer(%s, %v) = ok %v, %v", id, fields, ok, err)
	}
	r.record(t, d)
}

var ids = replication.NewIDs()

func newID() string { return ids.New(time.UnixMilli(reptest.BaseMillis)) }

// wantInvalid checks that err is a *fault.Invalid naming field and code.
func wantInvalid(t *testing.T, err error, field, code string) {
	t.Helper()
	inv, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("error = %v (%T), want *fault.Invalid", err, err)
	}
	if inv.Field != field || inv.Code != code {
		t.Fatalf("Invalid{Field: %q, Code: %q} (%v), want field %q code %q", inv.Field, inv.Code, err, field, code)
	}
}

func TestCreateCustomerRefusesBadInput(t *testing.T) {
	ok := map[string]string{"display_name": "上海浦东五金"}
	with := func(k, v string) map[string]string {
		m := map[string]string{"display_name": "上海浦东五金"}
		m[k] = v
		return m
	}
	cases := []struct {
		name        string
		id          string
		fields      map[string]string
		field, code string
	}{
		{"display_name missing", newID(), map[string]string{"city": "上海"}, "display_name", "required"},
		{"display_name blank", newID(), map[string]string{"display_name": "  \t "}, "display_name", "required"},
		{"no fields at all", newID(), nil, "display_name", "required"},
		{"bad phone", newID(), with("phone", "12345"), "phone", "bad_phone"},
		{"letters as mobile", newID(), with("mobile", "call me"), "mobile", "bad_phone"},
		{"bad finance_phone", newID(), with("finance_phone", "138 0013 800"), "finance_phone", "bad_phone"},
		{"bad email", newID(), with("email", "not-an-address"), "email", "bad_email"},
		{"email with display name", newID(), with("email", "Bob <bob@example.com>"), "email", "bad_email"},
		{"display_name too long", newID(), with("display_name", strings.Repeat("客", 201)), "display_name", "too_long"},
		{"note too long", newID(), with("note", strings.Repeat("a", 2001)), "note", "too_long"},
		{"code too long", newID(), with("code", strings.Repeat("9", 65)), "code", "too_long"},
		{"unknown field", newID(), with("nickname", "Bob"), "nickname", "unknown_field"},
		{"bad decimal", newID(), with("credit_limit", "12,50"), "credit_limit", "bad_decimal"},
		{"bad postcode", newID(), with("postcode", "!!"), "postcode", "bad_postcode"},
		{"bad parent ref", newID(), with("parent", "acme"), "parent", "bad_ref"},
		{"invalid utf-8", newID(), with("city", "\xff\xfe"), "city", "bad_text"},
		{"NUL byte", newID(), with("address", "a\x00b"), "address", "bad_text"},
		{"bad ULID", "not-a-ulid", ok, "name", "bad_id"},
		{"empty id", "", ok, "name", "bad_id"},
		{"lower-case ULID", strings.ToLower(newID()), ok, "name", "bad_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReplica(t)
			d, err := crm.CreateCustomer(r.read(), c.id, c.fields)
			wantInvalid(t, err, c.field, c.code)
			if d.Kind != "" || d.Entity != "" || d.Body != nil {
				t.Errorf("a refused command made a draft: %+v", d)
			}
		})
	}
}

func TestCreateCustomerNormalises(t *testing.T) {
	r := newReplica(t)
	id := newID()
	d, err := crm.CreateCustomer(r.read(), id, map[string]string{
		"display_name":  "  浦东五金  ",
		"mobile":        "138-0013-8000",
		"phone":         "(021) 6234 5678",
		"email":         "buyer@example.com",
		"credit_limit":  "1500.50",
		"finance_phone": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != crm.KindCustomerCreated || d.Entity != crm.Entity(id) {
		t.Fatalf("draft %s %s, want %s %s", d.Kind, d.Entity, crm.KindCustomerCreated, crm.Entity(id))
	}
	var got []string
	for _, fv := range d.Body.(*crmv1.CustomerCreated).GetFields() {
		got = append(got, fv.GetField()+"="+fv.GetValue())
	}
	// In Fields order, canonical values; an empty optional field is kept as
	// an explicit clear.
	want := []string{"display_name=浦东五金", "phone=+862162345678", "mobile=+8613800138000", "finance_phone=", "email=buyer@example.com", "credit_limit=1500.50"}
	if !slices.Equal(got, want) {
		t.Fatalf("fields %q, want %q", got, want)
	}
	r.record(t, d)
	c, err := crm.GetCustomer(r.read(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("display_name") != "浦东五金" || c.Get("mobile") != "+8613800138000" || c.Origin != "sh-pudong" {
		t.Errorf("customer after create: %+v", c)
	}
	if _, set := c.Fields["finance_phone"]; set {
		t.Errorf("an empty field reads as set: %q", c.Fields)
	}
	if _, err := crm.CreateCustomer(r.read(), id, map[string]string{"display_name": "again"}); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("creating an existing id: %v, want ErrConflict", err)
	}
}

func TestUpdateCustomerRefusesBadInput(t *testing.T) {
	r := newReplica(t)
	id := newID()
	r.create(t, id, map[string]string{"display_name": "浦东五金", "mobile": "13800138000"})
	cases := []struct {
		name        string
		id          string
		fields      map[string]string
		field, code string
	}{
		{"no fields", id, map[string]string{}, "update_mask", "required"},
		{"clear display_name", id, map[string]string{"display_name": " "}, "display_name", "required"},
		{"bad phone", id, map[string]string{"phone": "0000"}, "phone", "bad_phone"},
		{"bad email", id, map[string]string{"email": "a@"}, "email", "bad_email"},
		{"too long city", id, map[string]string{"city": strings.Repeat("城", 65)}, "city", "too_long"},
		{"unknown field beside a good one", id, map[string]string{"city": "上海", "colour": "red"}, "colour", "unknown_field"},
		{"bad ULID", "01J-NOT-A-ULID", map[string]string{"city": "上海"}, "name", "bad_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, ok, err := crm.UpdateCustomer(r.read(), c.id, c.fields)
			wantInvalid(t, err, c.field, c.code)
			if ok || d.Body != nil || d.Kind != "" {
				t.Errorf("a refused update made a draft: ok %v, %+v", ok, d)
			}
		})
	}
	t.Run("unknown customer", func(t *testing.T) {
		_, ok, err := crm.UpdateCustomer(r.read(), newID(), map[string]string{"city": "上海"})
		if !errors.Is(err, fault.ErrNotFound) || ok {
			t.Fatalf("ok %v, err %v, want ErrNotFound", ok, err)
		}
		if _, isInv := fault.AsInvalid(err); isInv {
			t.Errorf("a missing customer is not invalid input: %v", err)
		}
	})
}

func TestUpdateCustomerWritesOnlyChanges(t *testing.T) {
	r := newReplica(t)
	id := newID()
	r.create(t, id, map[string]string{"display_name": "浦东五金", "mobile": "13800138000", "city": "上海"})
	cases := []struct {
		name   string
		fields map[string]string
		want   []string // written fields; nil: no change
	}{
		{"same values", map[string]string{"city": "上海", "display_name": "浦东五金"}, nil},
		{"same number in another notation", map[string]string{"mobile": "+86 138-0013-8000"}, nil},
		{"one of two changes", map[string]string{"city": "北京", "mobile": "138 0013 8000"}, []string{"city=北京"}},
		{"clear an empty field", map[string]string{"note": ""}, nil},
		{"clear a set field", map[string]string{"city": ""}, []string{"city="}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, ok, err := crm.UpdateCustomer(r.read(), id, c.fields)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (c.want != nil) {
				t.Fatalf("ok = %v, want %v", ok, c.want != nil)
			}
			if !ok {
				return
			}
			var got []string
			for _, fv := range d.Body.(*crmv1.CustomerFieldSet).GetFields() {
				got = append(got, fv.GetField()+"="+fv.GetValue())
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("wrote %q, want %q", got, c.want)
			}
			r.record(t, d)
		})
	}
	c, err := crm.GetCustomer(r.read(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("city") != "" || c.Get("mobile") != "+8613800138000" {
		t.Errorf("customer after updates: %q", c.Fields)
	}
}

func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		name, raw, want string
		bad             bool
	}{
		{"mobile with spaces", "138 0013 8000", "+8613800138000", false},
		{"mobile with dashes", "138-0013-8000", "+8613800138000", false},
		{"mobile plain", "13800138000", "+8613800138000", false},
		{"mobile with +86", "+86 138 0013 8000", "+8613800138000", false},
		{"mobile with 0086", "0086 138 0013 8000", "+8613800138000", false},
		{"mobile in E.164", "+8613800138000", "+8613800138000", false},
		{"mobile with surrounding space", "  13800138000\t", "+8613800138000", false},
		{"mobile in full-width digits", "１３８００１３８０００", "+8613800138000", false},
		{"Beijing landline with area code", "010 88888888", "+861088888888", false},
		{"Beijing landline in brackets", "(010) 8888-8888", "+861088888888", false},
		{"Beijing landline with +86", "+86-10-8888 8888", "+861088888888", false},
		{"Shanghai landline", "021-62345678", "+862162345678", false},
		{"Shenzhen landline", "0755-8888 8888", "+8675588888888", false},
		{"foreign number", "+1 650 253 0000", "+16502530000", false},
		{"empty", "", "", false},
		{"blank", "   ", "", false},
		{"letters", "abc", "", true},
		{"too short", "12345", "", true},
		{"mobile one digit short", "138 0013 800", "", true},
		{"mobile two digits long", "1380013800012", "", true},
		{"landline without area code is not a number", "8888888", "", true},
		{"too long", strings.Repeat("1", 40), "", true},
		{"too long in full-width digits", strings.Repeat("１", 33), "", true},
		{"only punctuation", "---", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := crm.NormalizePhone(c.raw, crm.DefaultRegion)
			if c.bad {
				wantInvalid(t, err, "", "bad_phone")
				if got != "" {
					t.Errorf("a refused number normalised to %q", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", c.raw, got, err, c.want)
			}
			// Canonical form is a fixed point.
			if again, err := crm.NormalizePhone(got, crm.DefaultRegion); err != nil || again != got {
				t.Errorf("NormalizePhone(%q) = %q, %v; not a fixed point", got, again, err)
			}
		})
	}
}

func TestNormalizePhoneErrorIsValidText(t *testing.T) {
	// The detail quotes the input: cutting it must not split a character.
	_, err := crm.NormalizePhone(strings.Repeat("电", 40), crm.DefaultRegion)
	inv, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("err = %v, want *fault.Invalid", err)
	}
	if !isValidUTF8(inv.Detail) {
		t.Errorf("detail %q is not valid UTF-8", inv.Detail)
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func lookupIDs(t *testing.T, views replication.Tx, raw string) []string {
	t.Helper()
	cs, err := crm.LookupByPhone(views, raw)
	if err != nil {
		t.Fatalf("LookupByPhone(%q): %v", raw, err)
	}
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestLookupByPhone(t *testing.T) {
	r := newReplica(t)
	a, b := newID(), newID()
	r.create(t, a, map[string]string{
		"display_name":  "浦东五金",
		"phone":         "021 6234 5678",
		"mobile":        "138 0013 8000",
		"finance_phone": "+86 10 8888 8888",
	})
	r.create(t, b, map[string]string{"display_name": "浦东五金 二店", "mobile": "13800138000"})

	found := []struct {
		name, raw string
		want      []string
	}{
		{"phone, national notation", "(021) 62345678", []string{a}},
		{"phone, E.164", "+862162345678", []string{a}},
		{"mobile shared by two customers", "+86 138-0013-8000", []string{a, b}},
		{"finance_phone, national notation", "010-8888 8888", []string{a}},
		{"a number nobody has", "13900139000", []string{}},
	}
	for _, c := range found {
		t.Run(c.name, func(t *testing.T) {
			got := lookupIDs(t, r.read(), c.raw)
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Fatalf("LookupByPhone(%q) = %v, want %v", c.raw, got, want)
			}
		})
	}

	t.Run("changed number stops finding", func(t *testing.T) {
		r.update(t, a, map[string]string{"mobile": "139 0013 9000"})
		if got := lookupIDs(t, r.read(), "13800138000"); !slices.Equal(got, []string{b}) {
			t.Errorf("old mobile finds %v, want only %s", got, b)
		}
		if got := lookupIDs(t, r.read(), "13900139000"); !slices.Equal(got, []string{a}) {
			t.Errorf("new mobile finds %v, want %s", got, a)
		}
	})
	t.Run("number held by two fields stays until both change", func(t *testing.T) {
		r.update(t, a, map[string]string{"phone": "+8613900139000"}) // now phone = mobile
		r.update(t, a, map[string]string{"mobile": "021 6234 5678"})
		if got := lookupIDs(t, r.read(), "13900139000"); !slices.Equal(got, []string{a}) {
			t.Errorf("number still in phone finds %v, want %s", got, a)
		}
		r.update(t, a, map[string]string{"phone": ""})
		if got := lookupIDs(t, r.read(), "13900139000"); len(got) != 0 {
			t.Errorf("number no field holds finds %v", got)
		}
		if got := lookupIDs(t, r.read(), "+862162345678"); !slices.Equal(got, []string{a}) {
			t.Errorf("number moved to mobile finds %v, want %s", got, a)
		}
	})
	t.Run("bad number", func(t *testing.T) {
		_, err := crm.LookupByPhone(r.read(), "hello")
		wantInvalid(t, err, "phone", "bad_phone")
	})
	t.Run("empty number", func(t *testing.T) {
		_, err := crm.LookupByPhone(r.read(), " ")
		wantInvalid(t, err, "phone", "required")
	})
}

func TestListCustomers(t *testing.T) {
	r := newReplica(t)
	var want []string
	for i := range 5 {
		id := newID()
		want = append(want, id)
		r.create(t, id, map[string]string{"display_name": "c", "city": strings.Repeat("x", i)})
	}
	var got []string
	after := ""
	for {
		page, err := crm.ListCustomers(r.read(), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d, limit 2", len(page))
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged through %v, want %v", got, want)
	}
}

// TestEmailAddresses: an e-mail address must be one people can mail;
// a refused one is a field error on "email" and makes no draft.
func TestEmailAddresses(t *testing.T) {
	for _, c := range []struct {
		email string
		ok    bool
	}{
		{"buyer@example.com", true},
		{"first.last+orders@sub.example.com.cn", true},
		{"wang_wei@163.com", true},
		{"客服@例子.中国", true},
		{"a-b@x-y.co", true},
		{"not-an-address", false},
		{"a@b", false},
		{"bob@localhost", false},
		{"buyer@example", false},
		{"a@-x.com", false},
		{"a@x-.com", false},
		{"a@x_y.com", false},
		{"a@x.c", false},
		{"a@x.123", false},
		{"a@[192.168.1.1]", false},
		{"a@x..com", false},
		{"Bob <bob@example.com>", false},
	} {
		t.Run(c.email, func(t *testing.T) {
			r := newReplica(t)
			d, err := crm.CreateCustomer(r.read(), newID(), map[string]string{"display_name": "邮箱测试", "email": c.email})
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantInvalid(t, err, "email", "bad_email")
			if d.Body != nil {
				t.Errorf("a refused command made a draft: %+v", d)
			}
		})
	}
}

// A creation keeps all the fields it sets in one pair of the record; an
// edit adds a register of its own for each field it names, and the later
// by stamp is what reads show.
func TestCreationIsOnePair(t *testing.T) {
	r := newReplica(t)
	id := newID()
	r.create(t, id, map[string]string{"display_name": "上海浦东速递", "city": "上海", "address": "浦东新区世纪大道1号", "note": "月结"})
	count := func(kind string) (n int) {
		for k := range r.m.Dump() {
			if strings.Contains(k, "crm\x00cust\x00"+id+"\x00"+kind+"\x00") {
				n++
			}
		}
		return n
	}
	if p, f := count("p"), count("f"); p != 1 || f != 0 {
		t.Fatalf("after the creation: %d creation registers, %d field registers; want 1 and 0", p, f)
	}
	r.update(t, id, map[string]string{"city": "北京", "note": ""})
	if p, f := count("p"), count("f"); p != 1 || f != 2 {
		t.Fatalf("after an edit of two fields: %d creation registers, %d field registers; want 1 and 2", p, f)
	}
	c, err := crm.GetCustomer(r.read(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"display_name": "上海浦东速递", "city": "北京", "address": "浦东新区世纪大道1号"}
	if !maps.Equal(c.Fields, want) {
		t.Fatalf("fields %q, want %q", c.Fields, want)
	}
}
