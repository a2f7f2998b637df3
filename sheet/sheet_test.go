package sheet

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"pgregory.net/rapid"
)

// formulaStarts are the first characters a spreadsheet program may run.
const formulaStarts = "=+-@\t\r"

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"上海浦东速递", "上海浦东速递"},
		{"13800138000", "13800138000"},
		{"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
		{"+1+2", "'+1+2"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"+86 138 0013 8000", "'+86 138 0013 8000"},
		{"'quoted'", "''quoted'"},
		{"a=1", "a=1"},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Unescape(Escape(c.in)); got != c.in {
			t.Errorf("Unescape(Escape(%q)) = %q", c.in, got)
		}
	}
	// Apostrophes a user typed before text are theirs.
	for _, s := range []string{"'abc", "'", "it's"} {
		if got := Unescape(s); got != s {
			t.Errorf("Unescape(%q) = %q", s, got)
		}
	}
}

func TestEscapeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "cell")
		e := Escape(s)
		if e != "" && strings.ContainsRune(formulaStarts, rune(e[0])) {
			t.Fatalf("Escape(%q) = %q starts with a formula character", s, e)
		}
		if u := Unescape(e); u != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, u)
		}
	})
}

var table = [][]string{
	{"名称", "电话", "备注"},
	{"=HYPERLINK(\"http://evil.example\")", "+86 138 0013 8000", "-2+3"},
	{"@SUM(A1)", "+44 20 7946 0958", "+1+2"},
	{"\tcmd", "\r=cmd", "0571-8888 6666"},
	{"普通客户", "13800138000", "00123"},
}

func TestWriteCSVLeavesNoLiveCell(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, table); err != nil {
		t.Fatal(err)
	}
	b, ok := bytes.CutPrefix(buf.Bytes(), []byte("\ufeff"))
	if !ok {
		t.Fatal("no byte order mark")
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(table) {
		t.Fatalf("%d rows, want %d", len(rows), len(table))
	}
	for i, r := range rows {
		for j, c := range r {
			if c != "" && strings.ContainsRune(formulaStarts, rune(c[0])) {
				t.Errorf("row %d cell %d %q starts with a formula character", i, j, c)
			}
			if Unescape(c) != table[i][j] {
				t.Errorf("row %d cell %d reads back %q, want %q", i, j, Unescape(c), table[i][j])
			}
		}
	}
	if rows[1][1] != "'+86 138 0013 8000" {
		t.Errorf("a phone number reads %q", rows[1][1])
	}
}

func TestWriteXLSXWritesTextCells(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, table); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for i, r := range table {
		for j, want := range r {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			got, err := x.GetCellValue("Sheet1", cell)
			if err != nil || got != want {
				t.Errorf("%s = %q (%v), want %q as written", cell, got, err, want)
			}
			if f, _ := x.GetCellFormula("Sheet1", cell); f != "" {
				t.Errorf("%s is the formula %q", cell, f)
			}
			if typ, _ := x.GetCellType("Sheet1", cell); typ != excelize.CellTypeInlineString {
				t.Errorf("%s has type %v, want an inline string", cell, typ)
			}
			id, err := x.GetCellStyle("Sheet1", cell)
			if err != nil {
				t.Fatal(err)
			}
			st, err := x.GetStyle(id)
			if err != nil || st.NumFmt != textFormat {
				t.Errorf("%s has number format %v (%v), want text (@)", cell, st, err)
			}
		}
	}
}
