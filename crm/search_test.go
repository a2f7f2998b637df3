package crm_test

import (
	"slices"
	"strings"
	"testing"

	"branchline/crm"
	"branchline/replication"
)

// searchBook holds a few customers with Chinese names, cities and phones.
func searchBook(t *testing.T) (*book, map[string]string) {
	b := newBook(t)
	b.apply(crm.DefineCustomField(b.tx(), crm.CustomField{Key: "channel", Label: "来源", Kind: crm.CustomChoice, Options: []string{"电话", "网站"}}))
	ids := map[string]string{}
	for _, c := range []struct{ key, name, city, level, mobile, code string }{
		{"pudong", "上海浦东速递有限公司", "上海", "VIP", "+8613812345678", "SH-001"},
		{"pudong2", "浦东五金", "上海", "普通", "13900139000", "SH-002"},
		{"puxi", "上海浦西物流", "上海", "VIP", "13700137000", "SH-003"},
		{"beijing", "北京浦东餐厅", "北京", "VIP", "13600136000", "BJ-001"},
		{"acme", "ＡＣＭＥ Trading", "广州", "VIP", "021 6234 5678", "GZ-001"},
	} {
		ids[c.key] = b.create(map[string]string{"display_name": c.name, "city": c.city, "level": c.level, "mobile": c.mobile, "code": c.code})
	}
	b.update(ids["puxi"], map[string]string{"custom.channel": "网站"})
	return b, ids
}

func names(cs []*crm.Customer) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Fields["display_name"])
	}
	slices.Sort(out)
	return out
}

func TestSuggestChineseSubstrings(t *testing.T) {
	b, ids := searchBook(t)
	cases := []struct {
		typed string
		want  []string
	}{
		{"浦东", []string{"上海浦东速递有限公司", "北京浦东餐厅", "浦东五金"}},
		{"浦东速递", []string{"上海浦东速递有限公司"}},
		{"速", []string{"上海浦东速递有限公司"}},
		{"有限公司", []string{"上海浦东速递有限公司"}},
		{"5678", []string{"上海浦东速递有限公司", "ＡＣＭＥ Trading"}}, // mobile 138…5678 and landline 021 6234 5678
		{"138 1234", []string{"上海浦东速递有限公司"}},
		{"０２１", []string{"ＡＣＭＥ Trading"}}, // full-width digits
		{"acme", []string{"ＡＣＭＥ Trading"}},
		{"TRADING", []string{"ＡＣＭＥ Trading"}},
		{"sh-00", []string{"上海浦东速递有限公司", "上海浦西物流", "浦东五金"}},
		{"深圳", []string{}},
		{"", []string{}},
	}
	if crm.HasTextMemory(b.stored()) || !crm.HasTextMemory(b.tx()) {
		t.Fatal("the book's reader should find the searched texts in memory, the stored reader not")
	}
	for _, c := range cases {
		for reader, views := range map[string]replication.Tx{"memory": b.tx(), "stored": b.stored()} {
			t.Run(reader+"/"+c.typed, func(t *testing.T) {
				got, err := crm.Suggest(views, c.typed, 10, nil)
				if err != nil {
					t.Fatal(err)
				}
				var cs []*crm.Customer
				for _, s := range got {
					cs = append(cs, s.Customer)
				}
				if n := names(cs); !slices.Equal(n, c.want) {
					t.Fatalf("Suggest(%q) = %v, want %v", c.typed, n, c.want)
				}
			})
		}
	}
	t.Run("start of name ranks first", func(t *testing.T) {
		got, _ := crm.Suggest(b.tx(), "浦东", 10, nil)
		if got[0].Customer.ID != ids["pudong2"] || got[0].Field != "display_name" {
			t.Fatalf("first hit %s (%s), want 浦东五金", got[0].Customer.Fields["display_name"], got[0].Field)
		}
	})
	t.Run("limit", func(t *testing.T) {
		got, _ := crm.Suggest(b.tx(), "浦", 2, nil)
		if len(got) != 2 {
			t.Fatalf("%d hits, limit 2", len(got))
		}
	})
	t.Run("visible filter", func(t *testing.T) {
		got, _ := crm.Suggest(b.tx(), "浦东", 10, func(c *crm.Customer) bool { return c.Fields["city"] != "上海" })
		if len(got) != 1 || got[0].Customer.ID != ids["beijing"] {
			t.Fatalf("hits %v, want only the Beijing one", got)
		}
	})
}

// Overwriting a name, in any order, removes the grams of the old one.
func TestSuggestFollowsOverwrites(t *testing.T) {
	b, ids := searchBook(t)
	b.update(ids["pudong"], map[string]string{"display_name": "上海闵行快运", "mobile": "13500135000"})
	for typed, want := range map[string]int{"浦东速递": 0, "闵行": 1, "5678": 1, "135001": 1} {
		got, err := crm.Suggest(b.tx(), typed, 10, nil)
		if err != nil || len(got) != want {
			t.Errorf("Suggest(%q) = %d hits (%v), want %d", typed, len(got), err, want)
		}
	}
	b.apply(crm.DeleteCustomer(b.tx(), ids["pudong"]))
	if got, _ := crm.Suggest(b.tx(), "闵行", 10, nil); len(got) != 0 {
		t.Errorf("a deleted customer is suggested: %v", got)
	}
}

func TestSearchCombinations(t *testing.T) {
	b, _ := searchBook(t)
	eq := func(f, v string) crm.Filter { return crm.Filter{Field: f, Op: crm.OpEquals, Value: v} }
	has := func(f, v string) crm.Filter { return crm.Filter{Field: f, Op: crm.OpContains, Value: v} }
	cases := []struct {
		name    string
		filters []crm.Filter
		text    string
		want    []string
	}{
		{"city", []crm.Filter{eq("city", "上海")}, "", []string{"上海浦东速递有限公司", "上海浦西物流", "浦东五金"}},
		{"city and level and name contains", []crm.Filter{eq("city", "上海"), eq("level", "vip"), has("display_name", "浦东")}, "", []string{"上海浦东速递有限公司"}},
		{"free text and city", []crm.Filter{eq("city", "北京")}, "浦东", []string{"北京浦东餐厅"}},
		{"phone contains", []crm.Filter{has("mobile", "0013")}, "", []string{"上海浦西物流", "北京浦东餐厅", "浦东五金"}},
		{"phone equals in another notation", []crm.Filter{eq("mobile", "+86 139-0013-9000")}, "", []string{"浦东五金"}},
		{"custom field", []crm.Filter{eq("custom.channel", "网站")}, "", []string{"上海浦西物流"}},
		{"contains on a field without index", []crm.Filter{has("city", "京")}, "", []string{"北京浦东餐厅"}},
		{"full-width query", nil, "ａｃｍｅ", []string{"ＡＣＭＥ Trading"}},
		{"nothing", []crm.Filter{eq("city", "深圳")}, "", []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, more, err := crm.SearchCustomers(b.tx(), crm.Search{Filters: c.filters, Text: c.text, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			if n := names(got); !slices.Equal(n, c.want) || more {
				t.Fatalf("got %v (more %v), want %v", n, more, c.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var all []*crm.Customer
		after := ""
		for {
			page, more, err := crm.SearchCustomers(b.tx(), crm.Search{Filters: []crm.Filter{eq("level", "VIP")}, After: after, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if !more {
				break
			}
			after = page[len(page)-1].ID
		}
		if len(all) != 4 || !slices.IsSortedFunc(all, func(a, b *crm.Customer) int { return strings.Compare(a.ID, b.ID) }) {
			t.Fatalf("paged %v", names(all))
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, s := range []crm.Search{
			{Filters: []crm.Filter{eq("colour", "red")}},
			{Filters: []crm.Filter{eq("custom.nope", "x")}},
			{Filters: []crm.Filter{has("city", strings.Repeat("长", 201))}},
			{Text: "\xff"},
			{After: "not-a-token"},
		} {
			if _, _, err := crm.SearchCustomers(b.tx(), s); !isInvalidErr(err) {
				t.Errorf("search %+v: %v, want invalid", s, err)
			}
		}
	})
}

func TestFindDuplicates(t *testing.T) {
	b, ids := searchBook(t)
	ct := b.newID()
	b.apply(crm.AddContact(b.tx(), ids["beijing"], ct, map[string]string{"display_name": "张", "mobile": "13300133000"}))
	cases := []struct {
		name   string
		fields map[string]string
		want   []string
	}{
		{"same mobile in another notation", map[string]string{"display_name": "新公司", "mobile": "138-1234-5678"}, []string{"上海浦东速递有限公司"}},
		{"mobile given as phone", map[string]string{"display_name": "新公司", "phone": "13900139000"}, []string{"浦东五金"}},
		{"a contact's number", map[string]string{"display_name": "新公司", "mobile": "13300133000"}, []string{"北京浦东餐厅"}},
		{"same name, other legal form, same city", map[string]string{"display_name": "上海浦东速递公司", "city": "上海"}, []string{"上海浦东速递有限公司"}},
		{"same name, no city", map[string]string{"display_name": "上海 浦东速递有限公司"}, []string{"上海浦东速递有限公司"}},
		{"same name, other city", map[string]string{"display_name": "上海浦东速递有限公司", "city": "杭州"}, []string{}},
		{"nothing alike", map[string]string{"display_name": "杭州西湖茶庄", "mobile": "13100131000"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dups, err := crm.FindDuplicates(b.tx(), c.fields)
			if err != nil {
				t.Fatal(err)
			}
			var cs []*crm.Customer
			for _, d := range dups {
				cs = append(cs, d.Customer)
			}
			if n := names(cs); !slices.Equal(n, c.want) {
				t.Fatalf("duplicates %v, want %v", n, c.want)
			}
		})
	}
	if _, err := crm.FindDuplicates(b.tx(), map[string]string{"mobile": "12"}); !isInvalidErr(err) {
		t.Errorf("bad phone: %v, want invalid", err)
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+8613812345678": "138****5678",
		"+862162345678":  "021****5678",
		"+8675512345678": "0755****5678",
		"+861088888888":  "010****8888",
		"+16502530000":   "+1 650***0000",
		"":               "",
	} {
		if got := crm.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDialString(t *testing.T) {
	for in, want := range map[string]string{
		"+8613812345678": "13812345678",
		"+862162345678":  "02162345678",
		"+8675512345678": "075512345678",
		"+447911123456":  "+447911123456",
		"13812345678":    "13812345678",
	} {
		if got := crm.DialString(in); got != want {
			t.Errorf("DialString(%q) = %q, want %q", in, got, want)
		}
	}
}
