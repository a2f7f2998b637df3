package warehouse

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// Event kinds of purchase orders (采购单).
const (
	KindPOCreated = "warehouse.po.created"
	KindPOClosed  = "warehouse.po.closed"
)

// Purchase order states: closed beats received beats open.
const (
	POOpen     = "open"
	POReceived = "received" // every line received in full
	POClosed   = "closed"
)

// maxPOLines bounds the lines of a purchase order.
const maxPOLines = 200

// POLine is one line of a purchase order: ordered versus received (by
// receipts of type purchase that name the order).
type POLine struct {
	Product  string
	Ordered  int64
	Received int64
	Price    int64 // fen per unit
}

// PurchaseSpec is a purchase order to create.
type PurchaseSpec struct {
	Warehouse string
	Supplier  string
	Lines     []POLine // Product, Ordered, Price
	Note      string
}

// PurchaseOrder is an order to a supplier.
type PurchaseOrder struct {
	ID        string
	Warehouse string
	Supplier  string
	Note      string
	Status    string
	Created   time.Time
	Closed    time.Time
	Lines     []POLine
}

// PurchaseOrderEntity is the entity of purchase order id.
func PurchaseOrderEntity(id string) string { return "po/" + id }

func poKey(id string) []byte            { return key("po", id) }
func poClosedKey(id string) []byte      { return key("poc", id) }
func poReceivedKey(id, p string) []byte { return key("por", id, p) }
func poIndexKey(wh, id string) []byte   { return key("poi", wh, rev(id)) }

// CreatePurchaseOrder decides the event recording purchase order id (a
// new ULID). Any node may (head office buys); receipts at the warehouse's
// owner fill it. Bundles are ordered as their components.
func CreatePurchaseOrder(views replication.Tx, id string, s PurchaseSpec, now time.Time) (replication.Draft, error) {
	if err := checkULID("id", id); err != nil {
		return replication.Draft{}, err
	}
	if err := checkLine("supplier", s.Supplier, maxName, true); err != nil {
		return replication.Draft{}, err
	}
	if err := checkNote("note", s.Note); err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, poKey(id)); err != nil || ok {
		return replication.Draft{}, cmpErr(err, fmt.Errorf("purchase order %s exists: %w", id, fault.ErrConflict))
	}
	if _, err := needWarehouse(views, "warehouse", s.Warehouse); err != nil {
		return replication.Draft{}, err
	}
	if len(s.Lines) == 0 || len(s.Lines) > maxPOLines {
		return replication.Draft{}, fault.Invalidf("lines", "bad_count", "1 to %d lines", maxPOLines)
	}
	b := &whv1.PurchaseOrderCreated{Warehouse: s.Warehouse, Supplier: s.Supplier, Note: s.Note, AtMs: ms(now)}
	at := map[string]*whv1.PurchaseLine{}
	for _, l := range s.Lines {
		if err := checkQty("quantity", l.Ordered); err != nil {
			return replication.Draft{}, err
		}
		if l.Price < 0 || l.Price > MaxMoney {
			return replication.Draft{}, fault.Invalidf("price", "bad_price", "a price is 0 to %d fen", int64(MaxMoney))
		}
		p, err := needProduct(views, "product", l.Product)
		if err != nil {
			return replication.Draft{}, err
		}
		ps, err := expand(views, p, l.Ordered)
		if err != nil {
			return replication.Draft{}, err
		}
		for _, pt := range ps {
			price := l.Price
			if pt.bundle != "" {
				price = pt.product.CostPrice
			}
			if cur, ok := at[pt.product.ID]; ok {
				if cur.Price != price {
					return replication.Draft{}, fault.Invalidf("product", "duplicate", "%s is ordered twice at different prices", pt.product.ID)
				}
				if cur.Qty += pt.qty; cur.Qty > MaxQty {
					return replication.Draft{}, fault.Invalidf("quantity", "too_large", "at most %d of %s", MaxQty, pt.product.ID)
				}
				continue
			}
			pl := &whv1.PurchaseLine{Product: pt.product.ID, Qty: pt.qty, Price: price}
			at[pl.Product] = pl
			b.Lines = append(b.Lines, pl)
		}
	}
	if len(b.Lines) > maxPOLines {
		return replication.Draft{}, fault.Invalidf("lines", "too_many", "at most %d lines once bundles are expanded", maxPOLines)
	}
	return replication.Draft{Kind: KindPOCreated, Entity: PurchaseOrderEntity(id), Body: b}, nil
}

// ClosePurchaseOrder decides the event closing purchase order id: no more
// receipts against it.
func ClosePurchaseOrder(views replication.Tx, id, note string, now time.Time) (replication.Draft, error) {
	if err := checkNote("note", note); err != nil {
		return replication.Draft{}, err
	}
	po, err := GetPurchaseOrder(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if po.Status == POClosed {
		return replication.Draft{}, fmt.Errorf("purchase order %s is closed: %w", id, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindPOClosed, Entity: PurchaseOrderEntity(id), Body: &whv1.PurchaseOrderClosed{Note: note, AtMs: ms(now)}}, nil
}

// receivablePO reads the purchase order a receipt into wh names.
func receivablePO(views replication.Tx, id, wh, typ string) (*PurchaseOrder, error) {
	if typ != ReceiptPurchase {
		return nil, fault.Invalidf("type", "bad_type", "a receipt against a purchase order is of type purchase")
	}
	po, err := GetPurchaseOrder(views, id)
	if isNotFound(err) {
		return nil, fault.Invalidf("purchase_order", "unknown_po", "no purchase order %s", id)
	}
	if err != nil {
		return nil, err
	}
	if po.Warehouse != wh {
		return nil, fault.Invalidf("purchase_order", "other_warehouse", "purchase order %s is for warehouse %s", id, po.Warehouse)
	}
	if po.Status == POClosed {
		return nil, fmt.Errorf("purchase order %s is closed: %w", id, fault.ErrConflict)
	}
	return po, nil
}

func poID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "po/")
	return id, ok && replication.ValidULID(id)
}

func checkPOCreated(ev *replication.Event, b *whv1.PurchaseOrderCreated) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	if err := checkLine("supplier", b.GetSupplier(), maxName, true); err != nil {
		return err
	}
	if len(b.GetLines()) == 0 || len(b.GetLines()) > maxPOLines {
		return fault.Invalidf("lines", "bad_count", "1 to %d lines", maxPOLines)
	}
	for _, l := range b.GetLines() {
		if !ValidCode(l.GetProduct()) || l.GetQty() <= 0 || l.GetQty() > MaxQty || l.GetPrice() < 0 || l.GetPrice() > MaxMoney {
			return fault.Invalidf("lines", "bad_line", "bad line %v", l)
		}
	}
	if b.GetAtMs() <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return checkNote("note", b.GetNote())
}

func applyPOCreated(tx replication.Tx, ev *replication.Event, b *whv1.PurchaseOrderCreated) error {
	id, ok := poID(ev)
	if !ok || !ValidCode(b.GetWarehouse()) {
		return nil
	}
	won, prev, had, err := recordFirst(tx, poKey(id), b, ev)
	if err != nil || !won {
		return err
	}
	if had {
		var old whv1.PurchaseOrderCreated
		if proto.Unmarshal(prev.Value, &old) == nil && ValidCode(old.GetWarehouse()) {
			if err := tx.Delete(poIndexKey(old.GetWarehouse(), id)); err != nil {
				return err
			}
		}
	}
	return tx.Set(poIndexKey(b.GetWarehouse(), id), nil)
}

func checkPOClosed(ev *replication.Event, b *whv1.PurchaseOrderClosed) error {
	return checkNote("note", b.GetNote())
}

func applyPOClosed(tx replication.Tx, ev *replication.Event, b *whv1.PurchaseOrderClosed) error {
	id, ok := poID(ev)
	if !ok {
		return nil
	}
	_, _, _, err := recordFirst(tx, poClosedKey(id), b, ev)
	return err
}

// GetPurchaseOrder reads purchase order id with what was received.
func GetPurchaseOrder(views replication.Tx, id string) (*PurchaseOrder, error) {
	var c whv1.PurchaseOrderCreated
	if _, err := readRecord(views, "purchase order", id, poKey, &c); err != nil {
		return nil, err
	}
	po := &PurchaseOrder{ID: id, Warehouse: c.GetWarehouse(), Supplier: c.GetSupplier(), Note: c.GetNote(), Created: fromMs(c.GetAtMs()), Status: POReceived}
	for _, l := range c.GetLines() {
		got, err := replication.GetCounter(views, poReceivedKey(id, l.GetProduct()))
		if err != nil {
			return nil, err
		}
		po.Lines = append(po.Lines, POLine{Product: l.GetProduct(), Ordered: l.GetQty(), Received: got, Price: l.GetPrice()})
		if got < l.GetQty() {
			po.Status = POOpen
		}
	}
	var cl whv1.PurchaseOrderClosed
	if _, ok, err := readFirst(views, poClosedKey(id), &cl); err != nil {
		return nil, err
	} else if ok {
		po.Status, po.Closed = POClosed, fromMs(cl.GetAtMs())
		if cl.GetNote() != "" {
			po.Note = strings.TrimSpace(po.Note + "\n" + cl.GetNote())
		}
	}
	return po, nil
}

// ListPurchaseOrders returns up to limit purchase orders of warehouse wh,
// newest first, after the page token.
func ListPurchaseOrders(views replication.Tx, wh, token string, limit int) ([]*PurchaseOrder, string, error) {
	return listNewest(views, "poi", wh, token, limit, GetPurchaseOrder)
}
