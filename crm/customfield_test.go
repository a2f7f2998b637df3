package crm_test

import (
	"errors"
	"strings"
	"testing"

	"branchline/crm"
	"branchline/fault"
)

func defineFields(b *book) {
	b.t.Helper()
	for _, d := range []crm.CustomField{
		{Key: "vip_note", Label: "VIP 备注", Kind: crm.CustomText},
		{Key: "volume", Label: "月件量", Kind: crm.CustomNumber},
		{Key: "since", Label: "合作开始", Kind: crm.CustomDate},
		{Key: "channel", Label: "来源", Kind: crm.CustomChoice, Options: []string{"电话", "网站", "介绍"}},
	} {
		b.apply(crm.DefineCustomField(b.tx(), d))
	}
}

func TestCustomFieldValues(t *testing.T) {
	b := newBook(t)
	defineFields(b)
	id := b.create(map[string]string{"display_name": "上海浦东速递有限公司", "custom.volume": " 12000 ", "custom.channel": "电话"})
	c := b.get(id)
	if c.Custom["volume"] != "12000" || c.Custom["channel"] != "电话" {
		t.Fatalf("custom values %v", c.Custom)
	}
	b.update(id, map[string]string{"custom.since": "2024-02-29", "custom.volume": ""})
	c = b.get(id)
	if c.Custom["since"] != "2024-02-29" || c.Custom["volume"] != "" {
		t.Fatalf("after update: %v", c.Custom)
	}

	bad := []struct {
		name   string
		fields map[string]string
		field  string
		code   string
	}{
		{"unknown custom field", map[string]string{"custom.colour": "red"}, "custom.colour", "unknown_field"},
		{"malformed key", map[string]string{"custom.Bad Key": "x"}, "custom.Bad Key", "unknown_field"},
		{"not a number", map[string]string{"custom.volume": "12k"}, "custom.volume", "bad_number"},
		{"exponent is not a number", map[string]string{"custom.volume": "1e5"}, "custom.volume", "bad_number"},
		{"not a date", map[string]string{"custom.since": "2023-02-29"}, "custom.since", "bad_date"},
		{"date in another form", map[string]string{"custom.since": "2024/01/02"}, "custom.since", "bad_date"},
		{"not an option", map[string]string{"custom.channel": "传真"}, "custom.channel", "bad_choice"},
		{"text too long", map[string]string{"custom.vip_note": strings.Repeat("长", crm.MaxCustomTextLen+1)}, "custom.vip_note", "too_long"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			d, _, err := crm.UpdateCustomer(b.tx(), id, c.fields)
			refused(t, d, err, c.field, c.code)
			with := map[string]string{"display_name": "新客户"}
			for k, v := range c.fields {
				with[k] = v
			}
			d, err = crm.CreateCustomer(b.tx(), b.newID(), with)
			refused(t, d, err, c.field, c.code)
		})
	}

	t.Run("retired field refuses writes, keeps values", func(t *testing.T) {
		b.apply(crm.RetireCustomField(b.tx(), "since"))
		d, _, err := crm.UpdateCustomer(b.tx(), id, map[string]string{"custom.since": "2025-01-01"})
		refused(t, d, err, "custom.since", "unknown_field")
		if got := b.get(id).Custom["since"]; got != "2024-02-29" {
			t.Errorf("retired field's value %q, want it kept", got)
		}
		// Reinstating with the same kind works; with another kind not.
		_, err = crm.DefineCustomField(b.tx(), crm.CustomField{Key: "since", Label: "开始", Kind: crm.CustomText})
		if inv, ok := fault.AsInvalid(err); !ok || inv.Code != "kind_change" {
			t.Fatalf("reinstating as text: %v", err)
		}
		b.apply(crm.DefineCustomField(b.tx(), crm.CustomField{Key: "since", Label: "开始", Kind: crm.CustomDate}))
		b.update(id, map[string]string{"custom.since": "2025-01-01"})
	})
	t.Run("options change", func(t *testing.T) {
		b.apply(crm.UpdateCustomField(b.tx(), crm.CustomField{Key: "channel", Options: []string{"电话", "微信"}}, []string{"options"}))
		b.update(id, map[string]string{"custom.channel": "微信"})
		d, _, err := crm.UpdateCustomer(b.tx(), id, map[string]string{"custom.channel": "网站"})
		refused(t, d, err, "custom.channel", "bad_choice")
		def, err := crm.GetCustomField(b.tx(), "channel")
		if err != nil || def.Label != "来源" || strings.Join(def.Options, ",") != "电话,微信" {
			t.Fatalf("definition after option change: %+v %v", def, err)
		}
	})
}

func TestDefineCustomFieldRefusesBadInput(t *testing.T) {
	b := newBook(t)
	defineFields(b)
	cases := []struct {
		name        string
		def         crm.CustomField
		field, code string
	}{
		{"bad key", crm.CustomField{Key: "Volume", Label: "x", Kind: crm.CustomText}, "key", "bad_key"},
		{"key too long", crm.CustomField{Key: strings.Repeat("k", 33), Label: "x", Kind: crm.CustomText}, "key", "bad_key"},
		{"no label", crm.CustomField{Key: "a", Kind: crm.CustomText}, "label", "required"},
		{"label too long", crm.CustomField{Key: "a", Label: strings.Repeat("标", 65), Kind: crm.CustomText}, "label", "too_long"},
		{"no kind", crm.CustomField{Key: "a", Label: "x"}, "kind", "required"},
		{"bad kind", crm.CustomField{Key: "a", Label: "x", Kind: "colour"}, "kind", "bad_kind"},
		{"choice without options", crm.CustomField{Key: "a", Label: "x", Kind: crm.CustomChoice}, "options", "required"},
		{"options on text", crm.CustomField{Key: "a", Label: "x", Kind: crm.CustomText, Options: []string{"1"}}, "options", "not_choice"},
		{"repeated option", crm.CustomField{Key: "a", Label: "x", Kind: crm.CustomChoice, Options: []string{"甲", "甲"}}, "options", "repeated"},
		{"blank option", crm.CustomField{Key: "a", Label: "x", Kind: crm.CustomChoice, Options: []string{"甲", " "}}, "options", "blank"},
		{"multi-line option", crm.CustomField{Key: "a", Label: "x", Kind: crm.CustomChoice, Options: []string{"甲\n乙"}}, "options", "bad_text"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := crm.DefineCustomField(b.tx(), c.def)
			refused(t, d, err, c.field, c.code)
		})
	}
	if _, err := crm.DefineCustomField(b.tx(), crm.CustomField{Key: "volume", Label: "x", Kind: crm.CustomNumber}); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("defining an existing field: %v, want ErrConflict", err)
	}
	if _, err := crm.RetireCustomField(b.tx(), "nothing"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("retiring an unknown field: %v, want ErrNotFound", err)
	}
	defs, err := crm.CustomFields(b.tx())
	if err != nil || len(defs) != 4 {
		t.Fatalf("CustomFields = %+v, %v; want the 4 defined", defs, err)
	}
}
