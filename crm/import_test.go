package crm_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"branchline/crm"
	"branchline/crm/crmfile"
)

// The tests of customer files (package crmfile) live here, beside the
// customer book they import into.

// importBook has one stored customer the file's rows may duplicate and a
// choice custom field.
func importBook(t *testing.T) (*book, string) {
	b := newBook(t)
	b.apply(crm.DefineCustomField(b.tx(), crm.CustomField{Key: "channel", Label: "来源", Kind: crm.CustomChoice, Options: []string{"电话", "网站"}}))
	id := b.create(map[string]string{"display_name": "上海浦东速递有限公司", "city": "上海", "mobile": "13812345678"})
	return b, id
}

var importRows = [][]string{
	{"客户名称", "所在城市", "移动电话", "电子邮箱", "来源", "备注", "传真号"},
	{"杭州西湖茶庄", "杭州", "139 0013 9000", "tea@example.com", "网站", "新客户", "x"},
	{"宁波港口物流", "宁波", "12345", "not-mail", "传真", "", ""}, // bad phone, email and choice
	{"浦东速递", "上海", "+86 138-1234-5678", "", "", "", ""}, // same mobile as the stored customer
	{"", "", "", "", "", "", ""}, // blank: skipped
	{"杭州西湖茶庄有限公司", "杭州", "13700137000", "", "电话", "", ""}, // same name and city as line 2
}

func checkPreview(t *testing.T, b *book, stored string, f *crmfile.ImportFile) {
	t.Helper()
	if strings.Join(f.Columns, ",") != "display_name,city,mobile,email,custom.channel,note," || strings.Join(f.Unknown, ",") != "传真号" {
		t.Fatalf("columns %q, unknown %q", f.Columns, f.Unknown)
	}
	rows, err := crmfile.PreviewImport(b.tx(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (the blank one skipped)", len(rows))
	}
	ok, bad, dupStore, dupFile := rows[0], rows[1], rows[2], rows[3]
	if ok.Line != 2 || !ok.Importable(false) || ok.Values["mobile"] != "+8613900139000" || ok.Values["custom.channel"] != "网站" {
		t.Errorf("good row %+v", ok)
	}
	var errs []string
	for _, e := range bad.Errors {
		errs = append(errs, e.Field+":"+e.Code)
	}
	if strings.Join(errs, " ") != "mobile:bad_phone email:bad_email custom.channel:bad_choice" || bad.Importable(true) {
		t.Errorf("bad row errors %v", errs)
	}
	if len(dupStore.Duplicates) != 1 || dupStore.Duplicates[0].CustomerID != stored || dupStore.Duplicates[0].Reasons[0] != "mobile" || dupStore.Importable(false) || !dupStore.Importable(true) {
		t.Errorf("row duplicating a stored customer %+v", dupStore)
	}
	if len(dupFile.Duplicates) != 1 || dupFile.Duplicates[0].Line != 2 || dupFile.Duplicates[0].Reasons[0] != "name" || dupFile.Line != 6 {
		t.Errorf("row duplicating an earlier row %+v", dupFile)
	}
}

func TestImportCSV(t *testing.T) {
	b, stored := importBook(t)
	var buf bytes.Buffer
	for _, r := range importRows {
		buf.WriteString(strings.Join(r, ",") + "\n")
	}
	f, err := crmfile.ParseImport(bytes.NewReader(buf.Bytes()), crmfile.CSV, mustDefs(t, b))
	if err != nil {
		t.Fatal(err)
	}
	checkPreview(t, b, stored, f)

	t.Run("GB18030 as Excel saves it", func(t *testing.T) {
		gbk, err := simplifiedchinese.GB18030.NewEncoder().Bytes(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		f, err := crmfile.ParseImport(bytes.NewReader(gbk), crmfile.CSV, mustDefs(t, b))
		if err != nil {
			t.Fatal(err)
		}
		checkPreview(t, b, stored, f)
	})
	t.Run("English names", func(t *testing.T) {
		f, err := crmfile.ParseImport(strings.NewReader("display_name,mobile,custom.channel\nA,13900139000,电话\n"), crmfile.CSV, mustDefs(t, b))
		if err != nil || strings.Join(f.Columns, ",") != "display_name,mobile,custom.channel" {
			t.Fatalf("%v %v", f, err)
		}
	})
}

func TestImportXLSX(t *testing.T) {
	b, stored := importBook(t)
	x := excelize.NewFile()
	for i, r := range importRows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		row := make([]any, len(r))
		for j, v := range r {
			row[j] = v
		}
		if err := x.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := crmfile.ParseImport(&buf, crmfile.XLSX, mustDefs(t, b))
	if err != nil {
		t.Fatal(err)
	}
	checkPreview(t, b, stored, f)
}

func TestImportRefusesBadFiles(t *testing.T) {
	b, _ := importBook(t)
	var xl bytes.Buffer
	x := excelize.NewFile()
	x.SetSheetRow("Sheet1", "A1", &[]any{"客户名称"})
	x.WriteTo(&xl)
	corrupt := append([]byte(nil), xl.Bytes()[:xl.Len()/2]...)
	big := strings.Repeat("a", crmfile.MaxImportBytes+1)
	many := "客户名称\n" + strings.Repeat("某客户\n", crmfile.MaxImportRows+1)
	cases := []struct {
		name   string
		data   string
		format crmfile.FileFormat
		code   string
	}{
		{"not a zip", "客户名称\n甲\n", crmfile.XLSX, "bad_xlsx"},
		{"truncated xlsx", string(corrupt), crmfile.XLSX, "bad_xlsx"},
		{"too large", big, crmfile.CSV, "too_large"},
		{"too many rows", many, crmfile.CSV, "too_many_rows"},
		{"empty", "", crmfile.CSV, "required"},
		{"no name column", "城市,电话\n上海,13800138000\n", crmfile.CSV, "required"},
		{"name column twice", "客户名称,display_name\n甲,乙\n", crmfile.CSV, "repeated"},
		{"bad quoting", "客户名称\n\"甲\"x\"\n", crmfile.CSV, ""},
		{"neither utf-8 nor gb18030", "客户名称\n\xff\xff\xff\n", crmfile.CSV, "bad_encoding"},
		{"unknown format", "客户名称\n甲\n", crmfile.FileFormat(9), "bad_format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := crmfile.ParseImport(strings.NewReader(c.data), c.format, mustDefs(t, b))
			if c.code == "" {
				return // lazy quotes accept it; it must just not fail otherwise
			}
			if inv, ok := isInvalidCode(err); !ok || inv != c.code {
				t.Fatalf("err = %v, want invalid %s", err, c.code)
			}
		})
	}
}

func TestExportReadsBack(t *testing.T) {
	b, stored := importBook(t)
	b.update(stored, map[string]string{"custom.channel": "电话", "note": "=cmd|' /C calc'!A0"})
	defs := mustDefs(t, b)
	c := b.get(stored)
	for _, format := range []crmfile.FileFormat{crmfile.CSV, crmfile.XLSX} {
		for _, masked := range []bool{false, true} {
			var buf bytes.Buffer
			if err := crmfile.WriteTable(&buf, format, crmfile.ExportHeader(defs, nil), [][]string{crmfile.ExportRecord(c, defs, masked, time.FixedZone("CST", 8*3600))}); err != nil {
				t.Fatal(err)
			}
			if format == crmfile.CSV && bytes.Contains(buf.Bytes(), []byte(",=cmd")) {
				t.Error("a formula went into the CSV unescaped")
			}
			f, err := crmfile.ParseImport(&buf, format, defs)
			if err != nil {
				t.Fatal(err)
			}
			rec := f.Records[0].Values
			wantMobile := "138 1234 5678"
			if masked {
				wantMobile = "138****5678"
			}
			if rec["display_name"] != "上海浦东速递有限公司" || rec["mobile"] != wantMobile || rec["custom.channel"] != "电话" ||
				rec["note"] != "=cmd|' /C calc'!A0" {
				t.Errorf("format %d masked %v read back %v", format, masked, rec)
			}
		}
	}
}

func mustDefs(t *testing.T, b *book) []crm.CustomField {
	t.Helper()
	defs, err := crm.CustomFields(b.tx())
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

// TestExportHeaderUnique: every column of an export has its own name, and
// an import reads each back as its column — whatever the reader's
// language, and when custom fields are labelled like built-in ones or
// like each other.
func TestExportHeaderUnique(t *testing.T) {
	defs := []crm.CustomField{
		{Key: "channel", Label: "来源渠道", Kind: "text"},
		{Key: "city2", Label: "所在城市", Kind: "text"}, // the built-in city's Chinese label
		{Key: "town", Label: "城市", Kind: "text"},    // an import alias of city
		{Key: "grade", Label: "来源渠道", Kind: "text"}, // another custom field's label
		{Key: "gone", Label: "旧字段", Kind: "text", Retired: true},
	}
	english := map[string]string{crmfile.ExportID: "Customer ID", crmfile.ExportCreated: "Registered", "display_name": "Name",
		"email": "E-mail", "credit_level": "Credit level", "parent": "Parent customer", "finance_phone": "Finance phone"}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{{"documents' labels", nil}, {"English", english}} {
		t.Run(c.name, func(t *testing.T) {
			cols, head := crmfile.ExportColumns(defs), crmfile.ExportHeader(defs, c.labels)
			if len(head) != len(cols) {
				t.Fatalf("%d names for %d columns", len(head), len(cols))
			}
			seen := map[string]bool{}
			for _, h := range head {
				if seen[crm.Fold(h)] {
					t.Errorf("%q names two columns: %q", h, head)
				}
				seen[crm.Fold(h)] = true
			}
			f, err := crmfile.ParseImport(strings.NewReader(strings.Join(head, ",")+"\n"), crmfile.CSV, defs)
			if err != nil {
				t.Fatal(err)
			}
			for i, col := range cols {
				want := col
				if col == crmfile.ExportID || col == crmfile.ExportCreated {
					want = ""
				}
				if f.Columns[i] != want {
					t.Errorf("column %q, headed %q, reads back as %q", col, head[i], f.Columns[i])
				}
			}
			if len(f.Unknown) > 0 {
				t.Errorf("headers an import does not know: %q", f.Unknown)
			}
		})
	}
}
