package warehouse

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"branchline/fault"
	eventv1 "branchline/gen/branchline/event/v1"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// KindProductSet is the event kind writing fields of a product.
const KindProductSet = "warehouse.product.set"

// Product classes.
const (
	ClassSale    = "sale"    // sold item
	ClassGift    = "gift"    // given away with sales
	ClassSpecial = "special" // special offer
	ClassNoCost  = "nocost"  // carried at no cost
)

// Classes lists the product classes.
var Classes = []string{ClassSale, ClassGift, ClassSpecial, ClassNoCost}

// Bounds of bundles.
const (
	maxComponents   = 20
	maxComponentQty = 10_000
	maxBarcode      = 64
)

// Component is one part of a bundle: Qty of Product per bundle.
type Component struct {
	Product string
	Qty     int64
}

// Product is a stock-keeping unit. A bundle (Components set) is sold as
// one but holds no stock of its own: its receipts, issues and reservations
// are expanded into moves of its components.
type Product struct {
	ID          string
	Name        string
	Category    string
	RetailPrice int64 // fen
	CostPrice   int64 // fen
	Class       string
	Barcode     string
	// BatchTracked products are received with a batch and dates.
	BatchTracked bool
	// FEFO picks batches by expiry instead of receipt date.
	FEFO bool
	// ExpiryDays is the shelf life, giving the expiry of batches received
	// without one.
	ExpiryDays int64
	Weight     int64 // grams
	Components []Component
	// BarcodeConflicts are the other products claiming the same barcode.
	// The oldest claim wins the lookup.
	BarcodeConflicts []string
}

// IsBundle reports whether p is a bundle.
func (p *Product) IsBundle() bool { return len(p.Components) > 0 }

// ProductEntity is the entity of product id.
func ProductEntity(id string) string { return "product/" + id }

// ProductFields names the fields SetProduct can write.
var ProductFields = []string{"name", "category", "retail_price", "cost_price", "class", "barcode",
	"batch_tracked", "fefo", "expiry_days", "weight", "components"}

var productSpec = fieldSpec{
	"name":          textField("name", maxName, true),
	"category":      textField("category", 50, false),
	"retail_price":  intField("retail_price", 0, MaxMoney),
	"cost_price":    intField("cost_price", 0, MaxMoney),
	"class":         enumField("class", Classes...),
	"barcode":       barcodeField,
	"batch_tracked": boolField("batch_tracked"),
	"fefo":          boolField("fefo"),
	"expiry_days":   intField("expiry_days", 0, 36500),
	"weight":        intField("weight", 0, MaxQty),
	"components":    componentsField,
}

func barcodeField(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) > maxBarcode {
		return "", fault.Invalidf("barcode", "too_long", "at most %d characters", maxBarcode)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return "", fault.Invalidf("barcode", "bad_barcode", "%q is not a barcode", v)
		}
	}
	return v, nil
}

// componentsField canonicalises "B200*1,A100*2" to "A100*2,B200*1".
func componentsField(v string) (string, error) {
	cs, err := parseComponents(v)
	if err != nil {
		return "", err
	}
	return formatComponents(cs), nil
}

func parseComponents(v string) ([]Component, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []Component
	for part := range strings.SplitSeq(v, ",") {
		id, q, ok := strings.Cut(strings.TrimSpace(part), "*")
		if !ok {
			q = "1"
		}
		n, err := strconv.ParseInt(strings.TrimSpace(q), 10, 64)
		id = strings.TrimSpace(id)
		switch {
		case !ValidCode(id):
			return nil, fault.Invalidf("components", "bad_code", "%q is not a product code", id)
		case err != nil || n < 1 || n > maxComponentQty:
			return nil, fault.Invalidf("components", "bad_number", "quantity of %s must be 1 to %d", id, maxComponentQty)
		}
		out = append(out, Component{Product: id, Qty: n})
	}
	slices.SortFunc(out, func(a, b Component) int { return strings.Compare(a.Product, b.Product) })
	for i := 1; i < len(out); i++ {
		if out[i].Product == out[i-1].Product {
			return nil, fault.Invalidf("components", "duplicate", "%s listed twice", out[i].Product)
		}
	}
	if len(out) > maxComponents {
		return nil, fault.Invalidf("components", "too_many", "at most %d components", maxComponents)
	}
	return out, nil
}

func formatComponents(cs []Component) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Product + "*" + strconv.FormatInt(c.Qty, 10)
	}
	return strings.Join(parts, ",")
}

func productKey(id, field string) []byte { return key("p", id, field) }
func barcodeKey(code, id string) []byte  { return key("bc", code, id) }

func (p *Product) fields() map[string]string {
	return map[string]string{
		"name": p.Name, "category": p.Category, "retail_price": itoa(p.RetailPrice), "cost_price": itoa(p.CostPrice),
		"class": p.Class, "barcode": p.Barcode, "batch_tracked": btoa(p.BatchTracked), "fefo": btoa(p.FEFO),
		"expiry_days": itoa(p.ExpiryDays), "weight": itoa(p.Weight), "components": formatComponents(p.Components),
	}
}

func productFrom(id string, f map[string]string) *Product {
	cs, _ := parseComponents(f["components"]) // canonical, checked when written
	p := &Product{ID: id, Name: f["name"], Category: f["category"], RetailPrice: atoi(f["retail_price"]),
		CostPrice: atoi(f["cost_price"]), Class: f["class"], Barcode: f["barcode"], BatchTracked: f["batch_tracked"] == "1",
		FEFO: f["fefo"] == "1", ExpiryDays: atoi(f["expiry_days"]), Weight: atoi(f["weight"]), Components: cs}
	if p.Class == "" {
		p.Class = ClassSale
	}
	return p
}

// SetProduct decides the event writing the named fields of product p
// (every field when fields is empty). A new product needs a name. A
// barcode another product holds is refused; a bundle's components must be
// products that are not bundles, and a product with stock cannot become
// a bundle.
func SetProduct(views replication.Tx, p Product, fields []string) (replication.Draft, error) {
	if err := checkCode("id", p.ID, "product"); err != nil {
		return replication.Draft{}, err
	}
	sel, err := productSpec.pick(p.fields(), fields, "product")
	if err != nil {
		return replication.Draft{}, err
	}
	vals, err := productSpec.canonical(sel, "product")
	if err != nil {
		return replication.Draft{}, err
	}
	cur, err := GetProduct(views, p.ID)
	switch {
	case err == nil:
	case isNotFound(err):
		if _, ok := sel["name"]; !ok {
			return replication.Draft{}, fault.Invalidf("name", "required", "a new product needs a name")
		}
		cur = &Product{ID: p.ID}
	default:
		return replication.Draft{}, err
	}
	next := *cur
	for _, v := range vals {
		switch v.Field {
		case "components":
			next.Components, _ = parseComponents(v.Value)
		case "batch_tracked":
			next.BatchTracked = v.Value == "1"
		case "barcode":
			next.Barcode = v.Value
		}
	}
	if next.IsBundle() && next.BatchTracked {
		return replication.Draft{}, fault.Invalidf("batch_tracked", "bundle", "a bundle has no batches of its own")
	}
	if _, ok := sel["components"]; ok && next.IsBundle() {
		if err := checkComponents(views, &next, cur.IsBundle()); err != nil {
			return replication.Draft{}, err
		}
	}
	if _, ok := sel["barcode"]; ok && next.Barcode == cur.Barcode && len(vals) > 1 {
		// Rewriting the same barcode would renew the claim's stamp and
		// could make it lose to a younger claim of another product.
		vals = slices.DeleteFunc(vals, func(v *eventv1.FieldValue) bool { return v.Field == "barcode" })
	}
	if _, ok := sel["barcode"]; ok && next.Barcode != "" && next.Barcode != cur.Barcode {
		claims, err := barcodeClaims(views, next.Barcode)
		if err != nil {
			return replication.Draft{}, err
		}
		for _, c := range claims {
			if c.product != p.ID {
				return replication.Draft{}, fmt.Errorf("barcode %s is product %s's: %w", next.Barcode, c.product, fault.ErrConflict)
			}
		}
	}
	return replication.Draft{Kind: KindProductSet, Entity: ProductEntity(p.ID), Body: &whv1.ProductSet{Fields: vals}}, nil
}

func checkComponents(views replication.Tx, p *Product, wasBundle bool) error {
	for _, c := range p.Components {
		if c.Product == p.ID {
			return fault.Invalidf("components", "self", "a bundle cannot contain itself")
		}
		cp, err := GetProduct(views, c.Product)
		if isNotFound(err) {
			return fault.Invalidf("components", "unknown_product", "no product %s", c.Product)
		}
		if err != nil {
			return err
		}
		if cp.IsBundle() {
			return fault.Invalidf("components", "nested", "%s is a bundle; bundles cannot contain bundles", c.Product)
		}
	}
	if wasBundle {
		return nil
	}
	ws, err := warehouseIDs(views)
	if err != nil {
		return err
	}
	for _, w := range ws {
		n, err := replication.GetCounter(views, totalKey(w, p.ID))
		if err != nil {
			return err
		}
		if n != 0 {
			return fmt.Errorf("product %s has %d on hand in %s and cannot become a bundle: %w", p.ID, n, w, fault.ErrConflict)
		}
	}
	return nil
}

func productID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "product/")
	return id, ok && ValidCode(id)
}

func checkProductSet(ev *replication.Event, b *whv1.ProductSet) error {
	return productSpec.check(b.GetFields(), "product")
}

func applyProductSet(tx replication.Tx, ev *replication.Event, b *whv1.ProductSet) error {
	id, ok := productID(ev)
	if !ok {
		return nil
	}
	s := replication.StampOf(ev)
	return productSpec.apply(tx, b.GetFields(), func(f string) []byte { return productKey(id, f) }, s,
		func(field string, prev replication.Register) error {
			if field != "barcode" {
				return nil
			}
			if len(prev.Value) > 0 {
				if err := tx.Delete(barcodeKey(string(prev.Value), id)); err != nil {
					return err
				}
			}
			for _, f := range b.GetFields() {
				if f.GetField() == "barcode" && f.GetValue() != "" {
					return tx.Set(barcodeKey(f.GetValue(), id), encodeFirst(nil, s))
				}
			}
			return nil
		})
}

type barcodeClaim struct {
	product string
	stamp   replication.Stamp
}

// barcodeClaims lists the products claiming code, the winner (oldest
// claim) first.
func barcodeClaims(views replication.Tx, code string) ([]barcodeClaim, error) {
	if code == "" || len(code) > maxBarcode || strings.ContainsRune(code, 0) {
		return nil, nil
	}
	var out []barcodeClaim
	p := prefix("bc", code)
	err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
		r, err := decodeFirst(v)
		if err != nil {
			return false, err
		}
		out = append(out, barcodeClaim{product: string(k[len(p):]), stamp: r.Stamp})
		return true, nil
	})
	slices.SortFunc(out, func(a, b barcodeClaim) int {
		switch {
		case b.stamp.After(a.stamp):
			return -1
		case a.stamp.After(b.stamp):
			return 1
		}
		return strings.Compare(a.product, b.product)
	})
	return out, err
}

// GetProduct reads product id.
func GetProduct(views replication.Tx, id string) (*Product, error) {
	if !ValidCode(id) {
		return nil, fmt.Errorf("product %q: %w", id, fault.ErrNotFound)
	}
	f, err := readFields(views, prefix("p", id))
	if err != nil {
		return nil, err
	}
	if f["name"] == "" {
		return nil, fmt.Errorf("product %s: %w", id, fault.ErrNotFound)
	}
	p := productFrom(id, f)
	if p.Barcode != "" {
		claims, err := barcodeClaims(views, p.Barcode)
		if err != nil {
			return nil, err
		}
		for _, c := range claims {
			if c.product != id {
				p.BarcodeConflicts = append(p.BarcodeConflicts, c.product)
			}
		}
	}
	return p, nil
}

// LookupBarcode returns the product of a barcode: of several products
// claiming it, the oldest claim, with the others in BarcodeConflicts.
func LookupBarcode(views replication.Tx, code string) (*Product, error) {
	claims, err := barcodeClaims(views, strings.TrimSpace(code))
	if err != nil {
		return nil, err
	}
	if len(claims) == 0 {
		return nil, fmt.Errorf("barcode %q: %w", code, fault.ErrNotFound)
	}
	return GetProduct(views, claims[0].product)
}

// ListProducts returns up to limit products in id order after the page
// token, and the token of the next page.
func ListProducts(views replication.Tx, token string, limit int) ([]*Product, string, error) {
	p := prefix("p")
	var out []*Product
	last := ""
	start, err := pageStart(p, token)
	if err != nil {
		return nil, "", err
	}
	if start != nil {
		start[len(start)-1] = 1 // after every field of the token's product
	}
	more := false
	err = views.Scan(p, start, func(k, _ []byte) (bool, error) {
		id, _, _ := strings.Cut(string(k[len(p):]), "\x00")
		if id == last {
			return true, nil
		}
		if len(out) == limit {
			more = true
			return false, nil
		}
		last = id
		prod, err := GetProduct(views, id)
		if isNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		out = append(out, prod)
		return true, nil
	})
	if err != nil || !more {
		return out, "", err
	}
	return out, hexToken(last), nil
}

// part is what moves in stock for a product line: the product itself or
// one component of a bundle.
type part struct {
	product *Product
	qty     int64
	bundle  string // the bundle it came from
}

// expand returns the parts qty of p moves.
func expand(views replication.Tx, p *Product, qty int64) ([]part, error) {
	if !p.IsBundle() {
		return []part{{product: p, qty: qty}}, nil
	}
	out := make([]part, 0, len(p.Components))
	for _, c := range p.Components {
		cp, err := GetProduct(views, c.Product)
		if isNotFound(err) {
			return nil, fault.Invalidf("product", "unknown_product", "bundle %s lists %s, which does not exist", p.ID, c.Product)
		}
		if err != nil {
			return nil, err
		}
		if cp.IsBundle() {
			return nil, fault.Invalidf("product", "nested", "bundle %s lists bundle %s", p.ID, c.Product)
		}
		q := qty * c.Qty
		if q > MaxQty {
			return nil, fault.Invalidf("quantity", "too_large", "%d of bundle %s is more than %d of %s", qty, p.ID, MaxQty, c.Product)
		}
		out = append(out, part{product: cp, qty: q, bundle: p.ID})
	}
	return out, nil
}

// needProduct reads a product named in input, refusing unknown ones as
// invalid input.
func needProduct(views replication.Tx, field, id string) (*Product, error) {
	if err := checkCode(field, id, "product"); err != nil {
		return nil, err
	}
	p, err := GetProduct(views, id)
	if isNotFound(err) {
		return nil, fault.Invalidf(field, "unknown_product", "no product %s", id)
	}
	return p, err
}
