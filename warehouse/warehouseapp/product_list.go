package warehouseapp

import (
	"math"
	"slices"
	"strings"

	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/warehouse"
)

// Sortable columns of the product list.
const (
	ProductByCode     = "code"
	ProductByName     = "name"
	ProductByCategory = "category"
	ProductByClass    = "class"
	ProductByRetail   = "retail"
	ProductByCost     = "cost"
)

// ProductColumns lists the columns the product list sorts by, the default
// (the code) first.
var ProductColumns = []string{ProductByCode, ProductByName, ProductByCategory, ProductByClass, ProductByRetail, ProductByCost}

// ProductList asks for a page of the product list: the products whose
// code, name or barcode contain Text (case and width aside), of Category
// and Class when set, in the order of Sort (Desc: reversed), a page at a
// time (see keyset.Request).
type ProductList struct {
	Text, Category, Class string
	keyset.Order
	Limit int
}

// ProductPage is a page of the product list, with the number of products
// the whole list holds.
type ProductPage struct {
	Products   []*warehouse.Product
	Total      int
	Prev, Next string
}

// sortedProducts reads a page of the product list (an unknown column
// sorts by the code). The catalogue is a company's (thousands of
// products, not millions): the list reads every product, keeps those
// that match, counts them and orders them in memory — a use case's read,
// over the domain's ListProducts.
func sortedProducts(views replication.Tx, q ProductList) (ProductPage, error) {
	all, _, err := warehouse.ListProducts(views, "", math.MaxInt)
	if err != nil {
		return ProductPage{}, err
	}
	text := fold(q.Text)
	all = slices.DeleteFunc(all, func(p *warehouse.Product) bool {
		return q.Category != "" && fold(p.Category) != fold(q.Category) || q.Class != "" && p.Class != q.Class ||
			text != "" && !strings.Contains(fold(p.ID), text) && !strings.Contains(fold(p.Name), text) && !strings.Contains(fold(p.Barcode), text)
	})
	f, err := keyset.InMemory(all, func(p *warehouse.Product) []byte { return keyset.VarKey(sortValue(p, q.Sort), p.ID) }, q.Order, q.Limit)
	if err != nil {
		return ProductPage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return ProductPage{Products: f.Items, Total: f.Total, Prev: f.Prev, Next: f.Next}, nil
}

// fold is how the product list compares text: lower case, without the
// spaces around it.
func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func sortValue(p *warehouse.Product, col string) []byte {
	switch col {
	case ProductByName:
		return keyset.Text(p.Name)
	case ProductByCategory:
		return keyset.Text(p.Category)
	case ProductByClass:
		return []byte(p.Class)
	case ProductByRetail:
		return keyset.Int(int64(p.RetailPrice))
	case ProductByCost:
		return keyset.Int(int64(p.CostPrice))
	}
	return keyset.Text(p.ID)
}
