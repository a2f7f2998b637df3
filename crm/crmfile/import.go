package crmfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
	"branchline/sheet"
)

// FileFormat is the format of an imported or exported customer file.
type FileFormat int

// File formats.
const (
	CSV FileFormat = iota + 1
	XLSX
)

// Bounds of an import: what one file may cost the node.
const (
	MaxImportBytes = 10 << 20
	MaxImportRows  = 20000
	// maxUnzipped bounds what an XLSX may unpack to, against zip bombs.
	maxUnzipped = 64 << 20
)

// FieldLabels are the Chinese labels of the built-in fields, as the source
// documents name them; exports use them as headers and imports accept them.
var FieldLabels = map[string]string{
	"code": "客户编号", "mnemonic": "客户助记码", "display_name": "客户名称", "address": "办公地址",
	"phone": "主要电话", "mobile": "移动电话", "finance_phone": "财务电话", "postcode": "邮政编码",
	"email": "电子邮箱", "city": "所在城市", "industry": "所属行业", "level": "客户级别",
	"type": "客户类型", "status": "客户状态", "credit_level": "信用等级", "credit_limit": "信用额度",
	"parent": "上级单位", "website": "公司主页", "note": "备注信息", "owner": "负责人",
	"department": "负责部门",
}

// headerAliases are further header texts imports accept, folded; "" marks
// a known column that is not imported.
var headerAliases = map[string]string{
	"name": "display_name", "customer": "display_name", "客户": "display_name", "名称": "display_name",
	"助记码": "mnemonic", "编号": "code", "地址": "address", "电话": "phone", "手机": "mobile",
	"手机号码": "mobile", "移动电话号码": "mobile", "邮编": "postcode", "邮箱": "email", "城市": "city",
	"行业": "industry", "级别": "level", "类型": "type", "状态": "status", "备注": "note",
	"主页": "website", "网址": "website",
	// The pages' words for the fields, which their exports use as headers.
	"电子邮件": "email", "所属部门": "department", "所属人": "owner", "上级客户": "parent",
	"creditlevel": "credit_level", "creditlimit": "credit_limit", "e-mail": "email",
	"financephone": "finance_phone", "parentcustomer": "parent",
	"注册时间": "", "id": "", "客户id": "", "created": "", "customerid": "", "registered": "",
}

// ImportFile is a parsed customer file: the field each column maps to and
// the rows' raw values by field.
type ImportFile struct {
	Columns []string // field name per column; "" for a column not imported
	Unknown []string // header cells that name no field
	Records []ImportRecord
}

// ImportRecord is one row of a file.
type ImportRecord struct {
	Line   int               // 1-based line (CSV record or sheet row)
	Values map[string]string // raw cell text by field name
}

// ParseImport reads a customer file. Its first non-blank row is the
// header: each cell names a field by its English name ("display_name",
// "custom.<key>"), its Chinese label ("客户名称") or, for a custom field, its
// key or label. Blank rows are skipped. Files over MaxImportBytes or
// MaxImportRows, unreadable files and headers without a name column are
// refused with *fault.Invalid.
func ParseImport(r io.Reader, format FileFormat, defs []crm.CustomField) (*ImportFile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read import: %w", err)
	}
	if len(data) > MaxImportBytes {
		return nil, fault.Invalidf("content", "too_large", "the file is larger than %d MiB", MaxImportBytes>>20)
	}
	if len(data) == 0 {
		return nil, fault.Invalidf("content", "required", "the file is empty")
	}
	var rows func(yield func(line int, cells []string) bool) error
	switch format {
	case CSV:
		rows, err = csvRows(data)
	case XLSX:
		rows, err = xlsxRows(data)
	default:
		return nil, fault.Invalidf("format", "bad_format", "the format must be CSV or XLSX")
	}
	if err != nil {
		return nil, err
	}
	f := &ImportFile{}
	var perr error
	err = rows(func(line int, cells []string) bool {
		if blank(cells) {
			return true
		}
		if f.Columns == nil {
			if perr = f.mapHeader(cells, defs); perr != nil {
				return false
			}
			return true
		}
		if len(f.Records) == MaxImportRows {
			perr = fault.Invalidf("content", "too_many_rows", "the file has more than %d rows", MaxImportRows)
			return false
		}
		rec := ImportRecord{Line: line, Values: map[string]string{}}
		for i, field := range f.Columns {
			if field != "" && i < len(cells) {
				rec.Values[field] = sheet.Unescape(cells[i]) // our exports' "'+86 …" reads back as "+86 …"
			}
		}
		f.Records = append(f.Records, rec)
		return true
	})
	if perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, err
	}
	if f.Columns == nil {
		return nil, fault.Invalidf("content", "required", "the file has no header row")
	}
	return f, nil
}

func blank(cells []string) bool {
	return !slices.ContainsFunc(cells, func(c string) bool { return strings.TrimSpace(c) != "" })
}

// builtinHeaders maps the folded header texts that name built-in fields
// (their Chinese labels, aliases and names) to the fields; "" is a known
// column that is not imported.
func builtinHeaders() map[string]string {
	byText := map[string]string{}
	for name, label := range FieldLabels {
		byText[crm.Fold(label)] = name
	}
	for alias, name := range headerAliases {
		byText[alias] = name
	}
	for _, fl := range crm.Fields {
		byText[crm.Fold(fl.Name)] = fl.Name
	}
	return byText
}

// mapHeader maps the header cells to fields.
func (f *ImportFile) mapHeader(cells []string, defs []crm.CustomField) error {
	byText := builtinHeaders()
	for _, d := range defs {
		if d.Retired {
			continue
		}
		byText[crm.Fold(crm.CustomPrefix+d.Key)] = crm.CustomPrefix + d.Key
		for _, t := range []string{d.Label, d.Key} {
			if _, taken := byText[crm.Fold(t)]; !taken {
				byText[crm.Fold(t)] = crm.CustomPrefix + d.Key
			}
		}
	}
	f.Columns = make([]string, len(cells))
	for i, c := range cells {
		text := crm.Fold(strings.Trim(strings.TrimSpace(c), "*＊"))
		name, known := byText[text]
		if !known {
			if text != "" {
				f.Unknown = append(f.Unknown, strings.TrimSpace(c))
			}
			continue
		}
		if name != "" && slices.Contains(f.Columns[:i], name) {
			return fault.Invalidf("header", "repeated", "two columns are %s (%q)", name, strings.TrimSpace(c))
		}
		f.Columns[i] = name
	}
	if !slices.Contains(f.Columns, "display_name") {
		return fault.Invalidf("header", "required", "no column names the customer (客户名称 or display_name)")
	}
	return nil
}

func csvRows(data []byte) (func(func(int, []string) bool) error, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		// Excel in China saves CSV in GB18030 (GBK).
		dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil || !utf8.Valid(dec) || bytes.ContainsRune(dec, utf8.RuneError) {
			return nil, fault.Invalidf("content", "bad_encoding", "the file is neither UTF-8 nor GB18030 text")
		}
		data = dec
	}
	return func(yield func(int, []string) bool) error {
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		r.LazyQuotes = true
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			line, _ := r.FieldPos(0)
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					line = pe.Line
				}
				return fault.Invalidf("content", "bad_csv", "line %d: %v", line, err)
			}
			if !yield(line, rec) {
				return nil
			}
		}
	}, nil
}

func xlsxRows(data []byte) (func(func(int, []string) bool) error, error) {
	x, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: maxUnzipped})
	if err != nil {
		return nil, fault.Invalidf("content", "bad_xlsx", "not a readable XLSX file: %v", err)
	}
	sheets := x.GetSheetList()
	if len(sheets) == 0 {
		x.Close()
		return nil, fault.Invalidf("content", "bad_xlsx", "the workbook has no sheet")
	}
	return func(yield func(int, []string) bool) error {
		defer x.Close()
		rows, err := x.Rows(sheets[0])
		if err != nil {
			return fault.Invalidf("content", "bad_xlsx", "sheet %q cannot be read: %v", sheets[0], err)
		}
		defer rows.Close()
		for line := 1; rows.Next(); line++ {
			cells, err := rows.Columns()
			if err != nil {
				return fault.Invalidf("content", "bad_xlsx", "row %d: %v", line, err)
			}
			if !yield(line, cells) {
				return nil
			}
		}
		if err := rows.Error(); err != nil {
			return fault.Invalidf("content", "bad_xlsx", "sheet %q: %v", sheets[0], err)
		}
		return nil
	}, nil
}

// ImportRow is the preview of one imported row: its values as they would
// be stored, what is wrong with it, and what it may duplicate.
type ImportRow struct {
	Line       int
	Values     map[string]string // canonical values of the fields without error
	Errors     []*fault.Invalid  // one per field in error
	Duplicates []ImportDuplicate
}

// ImportDuplicate is a stored customer (CustomerID) or an earlier row of
// the file (Line) that a row may duplicate, and the matching fields.
type ImportDuplicate struct {
	CustomerID  string
	DisplayName string
	Line        int
	Reasons     []string
}

// Importable reports whether commit creates the row: it has no error and
// duplicates nothing, or the user chose to import it anyway.
func (r *ImportRow) Importable(anyway bool) bool {
	return len(r.Errors) == 0 && (len(r.Duplicates) == 0 || anyway)
}

// PreviewImport validates each row of a parsed file as CreateCustomer
// would, and finds the stored customers and earlier rows it may duplicate
// (same phone number; same normalised name, in the same city when both
// have one). It writes nothing.
func PreviewImport(views replication.Tx, f *ImportFile) ([]ImportRow, error) {
	out := make([]ImportRow, 0, len(f.Records))
	phones := map[string]int{} // number → first line
	type named struct {
		city string
		line int
	}
	names := map[string][]named{}
	for _, rec := range f.Records {
		row := ImportRow{Line: rec.Line, Values: map[string]string{}}
		for _, name := range crm.SortFieldNames(slices.Collect(maps.Keys(rec.Values))) {
			v, err := crm.NormalizeField(views, name, rec.Values[name])
			if err != nil {
				inv, ok := fault.AsInvalid(err)
				if !ok {
					return nil, err
				}
				inv.Field = name
				row.Errors = append(row.Errors, inv)
				continue
			}
			if v != "" {
				row.Values[name] = v
			}
		}
		if row.Values["display_name"] == "" && !slices.ContainsFunc(row.Errors, func(e *fault.Invalid) bool { return e.Field == "display_name" }) {
			row.Errors = append(row.Errors, &fault.Invalid{Field: "display_name", Code: "required", Detail: "is required"})
		}
		dups, err := crm.FindDuplicates(views, row.Values)
		if err != nil {
			return nil, err
		}
		for _, d := range dups {
			row.Duplicates = append(row.Duplicates, ImportDuplicate{CustomerID: d.Customer.ID, DisplayName: d.Customer.Fields["display_name"], Reasons: d.Reasons})
		}
		within := map[int][]string{}
		for _, fl := range crm.Fields {
			if v := row.Values[fl.Name]; fl.IsPhone() && v != "" {
				if first, ok := phones[v]; ok {
					within[first] = append(within[first], fl.Name)
				} else {
					phones[v] = rec.Line
				}
			}
		}
		if n := crm.NormalizeName(row.Values["display_name"]); n != "" {
			city := crm.Fold(row.Values["city"])
			for _, e := range names[n] {
				if city == "" || e.city == "" || e.city == city {
					within[e.line] = append(within[e.line], "name")
					break
				}
			}
			names[n] = append(names[n], named{city, rec.Line})
		}
		for _, line := range slices.Sorted(maps.Keys(within)) {
			row.Duplicates = append(row.Duplicates, ImportDuplicate{Line: line, Reasons: slices.Compact(within[line])})
		}
		out = append(out, row)
	}
	return out, nil
}
