package web

import (
	"strings"
	"testing"
)

// TestAlertText: an alert reads as one sentence in each language, with no
// key left — one whose argument is an alert (the step of a bootstrap)
// included, and the lists-being-built alert with the customers left.
func TestAlertText(t *testing.T) {
	for _, c := range []struct {
		alert Alert
		want  map[string]string // language → how the text starts
	}{
		{Alert{Key: "alert.taking_data", Args: []any{Alert{Key: "alert.taking_data.snapshot", Args: []any{uint64(700), uint64(1500)}}}}, map[string]string{
			"en":    "This branch is taking the company's data from head office (company records: 700 of 1500).",
			"zh-CN": "本网点正在从总部获取公司数据（公司资料：700 / 1500）。",
		}},
		{Alert{Key: "alert.indexing", Args: []any{123456}}, map[string]string{
			"en":    "Customer lists are still being built from the company's data (123456 customers to go)",
			"zh-CN": "客户列表仍在根据公司数据建立（还剩 123456 位客户）",
		}},
	} {
		for lang, want := range c.want {
			p, err := LangPage(lang)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.alertText(c.alert); !strings.HasPrefix(got, want) {
				t.Errorf("%s %s: %q, want it to start %q", c.alert.Key, lang, got, want)
			}
		}
	}
}
