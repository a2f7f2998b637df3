package stockui

import (
	"net/http"

	"branchline/warehouse"
	"branchline/web"
	"branchline/web/label"
)

// productLabelsData is what print_product_labels.html shows: copies of a
// product's label, label.PerSheet to a sheet.
type productLabelsData struct {
	web.Printout
	P *warehouse.Product
	// Code is what the barcode carries: the product's barcode, or its
	// product code when it has none.
	Code   string
	Sheets [][]int // the copies' numbers, by sheet
}

// productLabels prints copies (the query's "copies", 1 by default) of a
// product's barcode label — its name, and its barcode (else its product
// code) as Code 128 with the text under it — on A4 sheets of labels, for
// shelves and for goods received without a barcode of their own. Reading
// the product is all it does: a user who may read the stock prints.
func (s *Pages) productLabels(w http.ResponseWriter, r *http.Request) {
	p, _ := s.stockPage(r, "/stock/products", "stock.labels.title")
	pr, err := s.stock.Product(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.PrintFailed(w, r, p, err, "stock")
		return
	}
	n, err := label.Copies(r.URL.Query().Get("copies"))
	if err != nil {
		s.PrintFailed(w, r, p, err, "stock")
		return
	}
	copies := make([]int, n)
	for i := range copies {
		copies[i] = i + 1
	}
	code := pr.Barcode
	if code == "" {
		code = pr.ID
	}
	p.Title = p.N("stock.labels.title_n", n, pr.Name)
	p.Data = &productLabelsData{Printout: web.Printout{Paper: label.Sheet, Back: "/stock/products/" + pr.ID},
		P: pr, Code: code, Sheets: label.Sheets(copies, label.PerSheet)}
	s.Render(w, r, "print_product_labels", http.StatusOK, p)
}
