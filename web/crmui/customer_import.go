package crmui

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

	"branchline/access"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/crm/crmfile"
	"branchline/fault"
	"branchline/web"
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
	format   crmfile.FileFormat
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
	sp.token, sp.created = web.RandomToken(), now
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
	Done     *importDone
}

// importDone is what an import did.
type importDone struct {
	Imported, Skipped int
}

type importRowView struct {
	Line      int
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
	Line     int
	Reasons  string
}

func (s *Pages) importForm(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "import", "import.title")
	if !p.Can(string(access.CustomerImport)) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return
	}
	p.Data = &importData{}
	s.Render(w, r, "import", http.StatusOK, p)
}

// importFormat tells CSV from XLSX by the file name, else by content (an
// XLSX is a zip archive).
func importFormat(name string, content []byte) crmfile.FileFormat {
	switch strings.ToLower(path.Ext(name)) {
	case ".xlsx":
		return crmfile.XLSX
	case ".csv", ".txt":
		return crmfile.CSV
	}
	if bytes.HasPrefix(content, []byte("PK\x03\x04")) {
		return crmfile.XLSX
	}
	return crmfile.CSV
}

// importPreview reads the uploaded file, previews it and keeps it for the
// commit.
func (s *Pages) importPreview(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "import", "import.title")
	p.Data = &importData{}
	if err := r.ParseMultipartForm(web.MaxUpload); err != nil {
		p.Errors[""] = p.T("import.too_large", crmfile.MaxImportBytes>>20)
		s.Render(w, r, "import", http.StatusRequestEntityTooLarge, p)
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		p.Errors["file"] = p.T("import.no_file")
		p.Errors[""] = p.T("form.fix_errors")
		s.Render(w, r, "import", http.StatusUnprocessableEntity, p)
		return
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, crmfile.MaxImportBytes+1))
	if err != nil || len(content) > crmfile.MaxImportBytes {
		p.Errors[""] = p.T("import.too_large", crmfile.MaxImportBytes>>20)
		s.Render(w, r, "import", http.StatusRequestEntityTooLarge, p)
		return
	}
	file := crmapp.File{Content: content, Format: importFormat(hdr.Filename, content)}
	pv, err := s.cfg.Customers.PreviewImport(r.Context(), web.CallerOf(r), file)
	if err != nil {
		s.Render(w, r, "import", s.failedOn(p, err, nil), p)
		return
	}
	sp := &storedPreview{user: p.User, filename: hdr.Filename, content: content, format: file.Format}
	s.previews.put(sp)
	p.Data = viewImport(p, s.customFields(r), sp, pv)
	s.Render(w, r, "import", http.StatusOK, p)
}

// viewImport lays a preview out as a table: one column per imported field,
// the errors in their cells, the duplicates after.
func viewImport(p *web.Page, defs []crm.CustomField, sp *storedPreview, pv *crmapp.Preview) *importData {
	d := &importData{Token: sp.token, Filename: sp.filename, Unknown: pv.Unknown,
		Total: len(pv.Rows), Valid: pv.Valid, Errors: pv.Errors, Dups: pv.Duplicates}
	var cols []string
	for _, c := range pv.Columns {
		if c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	for _, c := range cols {
		d.Columns = append(d.Columns, searchFieldChoice{c, fieldLabel(p, defs, c)})
	}
	rows := pv.Rows
	if len(rows) > previewShown {
		// Problems first, in file order, then as many clean rows as fit.
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b crmfile.ImportRow) int {
			return clean(a) - clean(b)
		})
		rows = rows[:previewShown]
		d.Hidden = len(pv.Rows) - previewShown
	}
	for _, row := range rows {
		v := importRowView{Line: row.Line, Status: "ok"}
		errs := map[string]importCell{} // by field: the message and detail
		for _, e := range row.Errors {
			msg := p.InvalidText("invalid", e)
			if slices.Contains(cols, e.Field) {
				errs[e.Field] = importCell{Error: msg, Detail: e.Detail}
			} else {
				v.Problems = append(v.Problems, fieldLabel(p, defs, e.Field)+": "+msg)
			}
		}
		for i, c := range cols {
			val := row.Values[c]
			if crm.IsPhoneField(c) {
				val = web.DisplayPhone(val)
			}
			cell := errs[c]
			cell.Label, cell.Value = d.Columns[i].Label, val
			v.Cells = append(v.Cells, cell)
		}
		for _, dup := range row.Duplicates {
			var rs []string
			for _, reason := range dup.Reasons {
				rs = append(rs, reasonLabel(p, reason))
			}
			v.Dups = append(v.Dups, importDupView{ID: dup.CustomerID, Name: dup.DisplayName, Line: dup.Line, Reasons: strings.Join(rs, p.T("list.sep"))})
		}
		switch {
		case len(row.Errors) > 0:
			v.Status = "error"
		case len(row.Duplicates) > 0:
			v.Status, v.CanAnyway = "duplicate", true
		}
		d.Rows = append(d.Rows, v)
	}
	return d
}

// clean is 1 for a row without problems, 0 otherwise, to sort by.
func clean(r crmfile.ImportRow) int {
	if len(r.Errors) == 0 && len(r.Duplicates) == 0 {
		return 1
	}
	return 0
}

// importCommit imports the previewed file: the valid rows that duplicate
// nothing, and the duplicates ticked "import anyway".
func (s *Pages) importCommit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "import", "import.title")
	p.Data = &importData{}
	if !s.parseForm(w, r, p, "import") {
		return
	}
	sp := s.previews.get(r.PostFormValue("token"), p.User)
	if sp == nil {
		p.Errors[""] = p.T("import.expired")
		s.Render(w, r, "import", http.StatusGone, p)
		return
	}
	file := crmapp.File{Content: sp.content, Format: sp.format}
	req := crmapp.Import{File: file}
	for _, v := range r.PostForm["anyway"] {
		if n, err := strconv.Atoi(v); err == nil {
			req.Anyway = append(req.Anyway, n)
		}
	}
	done, err := s.cfg.Customers.CommitImport(r.Context(), web.CallerOf(r), req)
	if err != nil {
		// Show the file as it previews now, with the error on top.
		status := s.failedOn(p, err, nil)
		if pv, perr := s.cfg.Customers.PreviewImport(r.Context(), web.CallerOf(r), file); perr == nil {
			p.Data = viewImport(p, s.customFields(r), sp, pv)
		}
		s.Render(w, r, "import", status, p)
		return
	}
	s.previews.drop(sp.token)
	p.Data = &importData{Filename: sp.filename, Done: &importDone{Imported: len(done.Customers), Skipped: done.Skipped}}
	s.Render(w, r, "import", http.StatusOK, p)
}
