package web

import (
	"bytes"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/crm"
	crmv1 "branchline/gen/branchline/crm/v1"
)

// An import is two steps: the upload is previewed (per row: normalised
// values, errors, duplicates), then committed with the duplicates the user
// chose to import anyway. CommitImport takes the file again, and
// re-checks it against the data as it is then, so the file must survive
// between the two requests.
//
// The pages keep it on the server, in memory, under a random token bound
// to the user who uploaded it, for previewTTL, within previewBudget bytes
// in all (the oldest previews make room for new ones). Sending the bytes
// back in a hidden field would double every upload (up to 10 MiB) through
// the browser, and asking for the file again makes the user pick it twice.
// A preview lost to a restart or to the budget only means uploading again;
// nothing is written before the commit.
const (
	previewTTL    = 30 * time.Minute
	previewBudget = 64 << 20
	// previewsPerUser bounds one user's pending previews.
	previewsPerUser = 3
	// previewShown bounds the rows the preview lists; larger files list
	// their rows with problems first.
	previewShown = 300
)

type storedPreview struct {
	token    string
	user     string
	filename string
	content  []byte
	format   crmv1.FileFormat
	created  time.Time
}

// previewStore holds uploaded files between preview and commit.
type previewStore struct {
	mu     sync.Mutex
	ttl    time.Duration
	budget int
	items  []*storedPreview // oldest first
	now    func() time.Time
}

func newPreviewStore(ttl time.Duration, budget int) *previewStore {
	return &previewStore{ttl: ttl, budget: budget, now: time.Now}
}

// put stores a preview and returns its token. Expired previews, the
// user's oldest beyond previewsPerUser and then the oldest of all go to
// make room.
func (ps *previewStore) put(sp *storedPreview) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := ps.now()
	sp.token, sp.created = randomToken(), now
	ps.items = slices.DeleteFunc(ps.items, func(it *storedPreview) bool { return now.Sub(it.created) > ps.ttl })
	mine := 0
	for i := len(ps.items) - 1; i >= 0; i-- {
		if ps.items[i].user == sp.user {
			if mine++; mine >= previewsPerUser {
				ps.items = slices.Delete(ps.items, i, i+1)
			}
		}
	}
	used := len(sp.content)
	for _, it := range ps.items {
		used += len(it.content)
	}
	for used > ps.budget && len(ps.items) > 0 {
		used -= len(ps.items[0].content)
		ps.items = ps.items[1:]
	}
	ps.items = append(ps.items, sp)
	return sp.token
}

// get returns the user's preview under token, if it is still there.
func (ps *previewStore) get(token, user string) *storedPreview {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, it := range ps.items {
		if it.token == token && it.user == user && ps.now().Sub(it.created) <= ps.ttl {
			return it
		}
	}
	return nil
}

func (ps *previewStore) drop(token string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.items = slices.DeleteFunc(ps.items, func(it *storedPreview) bool { return it.token == token })
}

// importPages are the import pages and the previews they keep.
type importPages struct {
	s        *Server
	previews *previewStore
}

type importData struct {
	// Token names the stored preview; empty on the upload form.
	Token    string
	Filename string
	Columns  []searchFieldChoice
	Unknown  []string
	Rows     []importRowView
	Hidden   int // rows without problems not listed
	Total    int
	Valid    int
	Errors   int
	Dups     int
	Done     *crmv1.CommitImportResponse
}

type importRowView struct {
	Line      int32
	Status    string // "ok", "error", "duplicate"
	Cells     []importCell
	Problems  []string // errors about fields not shown as columns
	Dups      []importDupView
	CanAnyway bool
}

// importCell is one value of a previewed row; Detail is the API's English
// explanation of an error, which names the refused value.
type importCell struct{ Label, Value, Error, Detail string }

type importDupView struct {
	ID, Name string
	Line     int32
	Reasons  string
}

func (ip *importPages) form(w http.ResponseWriter, r *http.Request) {
	p := ip.s.page(r, "import", "import.title")
	if !p.Can(string(access.CustomerImport)) {
		ip.s.render(w, r, "error", ip.s.failed(p, errDeniedPage), p)
		return
	}
	p.Data = &importData{}
	ip.s.render(w, r, "import", http.StatusOK, p)
}

// importFormat tells CSV from XLSX by the file name, else by content (an
// XLSX is a zip archive).
func importFormat(name string, content []byte) crmv1.FileFormat {
	switch strings.ToLower(path.Ext(name)) {
	case ".xlsx":
		return crmv1.FileFormat_FILE_FORMAT_XLSX
	case ".csv", ".txt":
		return crmv1.FileFormat_FILE_FORMAT_CSV
	}
	if bytes.HasPrefix(content, []byte("PK\x03\x04")) {
		return crmv1.FileFormat_FILE_FORMAT_XLSX
	}
	return crmv1.FileFormat_FILE_FORMAT_CSV
}

// preview reads the uploaded file, previews it and keeps it for the
// commit.
func (ip *importPages) preview(w http.ResponseWriter, r *http.Request) {
	s := ip.s
	p := s.page(r, "import", "import.title")
	p.Data = &importData{}
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		p.Errors[""] = p.T("import.too_large", crm.MaxImportBytes>>20)
		s.render(w, r, "import", http.StatusRequestEntityTooLarge, p)
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		p.Errors["file"] = p.T("import.no_file")
		p.Errors[""] = p.T("form.fix_errors")
		s.render(w, r, "import", http.StatusUnprocessableEntity, p)
		return
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, crm.MaxImportBytes+1))
	if err != nil || len(content) > crm.MaxImportBytes {
		p.Errors[""] = p.T("import.too_large", crm.MaxImportBytes>>20)
		s.render(w, r, "import", http.StatusRequestEntityTooLarge, p)
		return
	}
	format := importFormat(hdr.Filename, content)
	resp, err := s.cfg.Customers.PreviewImport(r.Context(), connect.NewRequest(&crmv1.PreviewImportRequest{Content: content, Format: format}))
	if err != nil {
		s.render(w, r, "import", s.failedOn(p, err, nil), p)
		return
	}
	sp := &storedPreview{user: sessionFrom(r.Context()).User, filename: hdr.Filename, content: content, format: format}
	ip.previews.put(sp)
	p.Data = viewImport(p, s.customFields(r), sp, resp.Msg)
	s.render(w, r, "import", http.StatusOK, p)
}

// viewImport lays a preview out as a table: one column per imported field,
// the errors in their cells, the duplicates after.
func viewImport(p *Page, defs []*crmv1.CustomField, sp *storedPreview, resp *crmv1.PreviewImportResponse) *importData {
	d := &importData{Token: sp.token, Filename: sp.filename, Unknown: resp.GetUnknownColumns(),
		Total: len(resp.GetRows()), Valid: int(resp.GetValidRows()), Errors: int(resp.GetErrorRows()), Dups: int(resp.GetDuplicateRows())}
	var cols []string
	for _, c := range resp.GetColumns() {
		if c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	for _, c := range cols {
		d.Columns = append(d.Columns, searchFieldChoice{c, fieldLabel(p, defs, c)})
	}
	rows := resp.GetRows()
	if len(rows) > previewShown {
		// Problems first, in file order, then as many clean rows as fit.
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b *crmv1.ImportRow) int {
			return clean(a) - clean(b)
		})
		rows = rows[:previewShown]
		d.Hidden = len(resp.GetRows()) - previewShown
	}
	for _, row := range rows {
		v := importRowView{Line: row.GetLine(), Status: "ok"}
		errs := map[string]importCell{} // by field: the message and detail
		for _, e := range row.GetErrors() {
			msg := p.T("invalid." + e.GetCode())
			if msg == "invalid."+e.GetCode() {
				msg = e.GetDetail()
			}
			if slices.Contains(cols, e.GetField()) {
				errs[e.GetField()] = importCell{Error: msg, Detail: e.GetDetail()}
			} else {
				v.Problems = append(v.Problems, fieldLabel(p, defs, e.GetField())+": "+msg)
			}
		}
		for i, c := range cols {
			val := row.GetValues()[c]
			if crm.IsPhoneField(c) {
				val = displayPhone(val)
			}
			cell := errs[c]
			cell.Label, cell.Value = d.Columns[i].Label, val
			v.Cells = append(v.Cells, cell)
		}
		for _, dup := range row.GetDuplicates() {
			var rs []string
			for _, reason := range dup.GetReasons() {
				rs = append(rs, reasonLabel(p, reason))
			}
			v.Dups = append(v.Dups, importDupView{ID: idOf(dup.GetCustomer()), Name: dup.GetDisplayName(), Line: dup.GetLine(), Reasons: strings.Join(rs, p.T("list.sep"))})
		}
		switch {
		case len(row.GetErrors()) > 0:
			v.Status = "error"
		case len(row.GetDuplicates()) > 0:
			v.Status, v.CanAnyway = "duplicate", true
		}
		d.Rows = append(d.Rows, v)
	}
	return d
}

// clean is 1 for a row without problems, 0 otherwise, to sort by.
func clean(r *crmv1.ImportRow) int {
	if len(r.GetErrors()) == 0 && len(r.GetDuplicates()) == 0 {
		return 1
	}
	return 0
}

// commit imports the previewed file: the valid rows that duplicate
// nothing, and the duplicates ticked "import anyway".
func (ip *importPages) commit(w http.ResponseWriter, r *http.Request) {
	s := ip.s
	p := s.page(r, "import", "import.title")
	p.Data = &importData{}
	if !s.parseForm(w, r, p, "import") {
		return
	}
	sp := ip.previews.get(r.PostFormValue("token"), sessionFrom(r.Context()).User)
	if sp == nil {
		p.Errors[""] = p.T("import.expired")
		s.render(w, r, "import", http.StatusGone, p)
		return
	}
	var anyway []int32
	for _, v := range r.PostForm["anyway"] {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			anyway = append(anyway, int32(n))
		}
	}
	resp, err := s.cfg.Customers.CommitImport(r.Context(), connect.NewRequest(&crmv1.CommitImportRequest{
		Content: sp.content, Format: sp.format, ImportAnyway: anyway,
	}))
	if err != nil {
		// Show the file as it previews now, with the error on top.
		status := s.failedOn(p, err, nil)
		if pr, perr := s.cfg.Customers.PreviewImport(r.Context(), connect.NewRequest(&crmv1.PreviewImportRequest{Content: sp.content, Format: sp.format})); perr == nil {
			p.Data = viewImport(p, s.customFields(r), sp, pr.Msg)
		}
		s.render(w, r, "import", status, p)
		return
	}
	ip.previews.drop(sp.token)
	p.Data = &importData{Filename: sp.filename, Done: resp.Msg}
	s.render(w, r, "import", http.StatusOK, p)
}
