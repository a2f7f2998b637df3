package warehouse

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// KindStockMoved is the event kind of receipts, issues and bin moves.
const KindStockMoved = "warehouse.stock.moved"

// Receipt types (入库).
const (
	ReceiptPurchase       = "purchase"
	ReceiptOffset         = "offset"
	ReceiptCustomerReturn = "customer_return"
	ReceiptExchange       = "exchange"
	ReceiptRepaired       = "repaired"
	ReceiptOther          = "other"
)

// Issue types (出库).
const (
	IssueOrder          = "order"
	IssueOffset         = "offset"
	IssueSupplierReturn = "supplier_return"
	IssueExchange       = "exchange"
	IssueRequisition    = "requisition"
	IssueDamaged        = "damaged"
	IssueOther          = "other"
)

// ReceiptTypes and IssueTypes list the types of moves.
var (
	ReceiptTypes = []string{ReceiptPurchase, ReceiptOffset, ReceiptCustomerReturn, ReceiptExchange, ReceiptRepaired, ReceiptOther}
	IssueTypes   = []string{IssueOrder, IssueOffset, IssueSupplierReturn, IssueExchange, IssueRequisition, IssueDamaged, IssueOther}
)

// MoveEntity is the entity of move id.
func MoveEntity(id string) string { return "move/" + id }

// Receipt is a receipt to record: lines into bins of a warehouse.
type Receipt struct {
	Warehouse string
	Type      string
	Lines     []ReceiptLine
	// PurchaseOrder is the order a purchase receipt fills, if any.
	PurchaseOrder string
	Ref           string
	Note          string
}

// ReceiptLine is one product received. Batch-tracked products need a
// batch; Expires defaults to the production (else receipt) date plus the
// product's shelf life. A bundle is received as its components (a batch
// given applies to the batch-tracked ones).
type ReceiptLine struct {
	Product  string
	Bin      string
	Batch    string
	Qty      int64
	Produced time.Time
	Expires  time.Time
}

// Issue is an issue to record: lines out of bins of a warehouse.
type Issue struct {
	Warehouse string
	Type      string
	Lines     []IssueLine
	Ref       string
	Note      string
}

// IssueLine is one product issued from Bin; batches are picked first in,
// first out unless Batch pins one.
type IssueLine struct {
	Product string
	Bin     string
	Batch   string
	Qty     int64
}

// BinMove moves stock between bins of one warehouse.
type BinMove struct {
	Warehouse string
	Lines     []BinMoveLine
	Note      string
}

// BinMoveLine moves Qty of Product from bin From to bin To, picking
// batches first in, first out unless Batch pins one.
type BinMoveLine struct {
	Product string
	From    string
	To      string
	Batch   string
	Qty     int64
}

// newMove checks what every move command checks: a new id, a warehouse
// node owns, the text fields.
func newMove(views replication.Tx, node, id, wh, ref, note string) (*Warehouse, error) {
	if err := checkULID("id", id); err != nil {
		return nil, err
	}
	if err := checkLine("ref", ref, maxRef, false); err != nil {
		return nil, err
	}
	if err := checkNote("note", note); err != nil {
		return nil, err
	}
	if ok, err := exists(views, recordKey(id)); err != nil || ok {
		return nil, cmpErr(err, fmt.Errorf("move %s exists: %w", id, fault.ErrConflict))
	}
	return ownWarehouse(views, "warehouse", wh, node)
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func checkLineCount(n int) error {
	if n == 0 {
		return fault.Invalidf("lines", "required", "at least one line")
	}
	if n > MaxLines {
		return fault.Invalidf("lines", "too_many", "at most %d lines", MaxLines)
	}
	return nil
}

// lineSet collects the lines of an event, adding up lines of the same
// product, bin and batch, in the order first seen.
type lineSet struct {
	lines []*whv1.Line
	at    map[string]*whv1.Line
}

func (s *lineSet) add(l *whv1.Line) {
	if s.at == nil {
		s.at = map[string]*whv1.Line{}
	}
	k := l.Product + "\x00" + l.Bin + "\x00" + l.Batch + "\x00" + l.Bundle
	if cur, ok := s.at[k]; ok {
		cur.Qty += l.Qty
		return
	}
	s.at[k] = l
	s.lines = append(s.lines, l)
}

// batchSet collects the dates of the batches a receipt brings in.
type batchSet map[string]*whv1.Batch

func (s batchSet) add(b *whv1.Batch) error {
	k := b.Product + "\x00" + b.Batch
	if cur, ok := s[k]; ok {
		if cur.ProducedMs != b.ProducedMs || cur.ExpiresMs != b.ExpiresMs {
			return fault.Invalidf("batch", "conflicting_dates", "batch %s of %s given with two different dates", b.Batch, b.Product)
		}
		return nil
	}
	s[k] = b
	return nil
}

func (s batchSet) list() []*whv1.Batch {
	out := make([]*whv1.Batch, 0, len(s))
	for _, b := range s {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b *whv1.Batch) int {
		return strings.Compare(a.Product+"\x00"+a.Batch, b.Product+"\x00"+b.Batch)
	})
	return out
}

// receiveLine turns one received line into event lines (a bundle's
// components) and the dates of its batch.
func receiveLine(views replication.Tx, w *Warehouse, l ReceiptLine, now time.Time, lines *lineSet, batches batchSet) error {
	if err := checkQty("quantity", l.Qty); err != nil {
		return err
	}
	if _, err := needBin(w, "bin", l.Bin); err != nil {
		return err
	}
	p, err := needProduct(views, "product", l.Product)
	if err != nil {
		return err
	}
	if !l.Produced.IsZero() && l.Produced.After(now) {
		return fault.Invalidf("produced", "future", "the production date is after today")
	}
	if !l.Expires.IsZero() && !l.Produced.IsZero() && l.Expires.Before(l.Produced) {
		return fault.Invalidf("expires", "before_produced", "expiry is before production")
	}
	ps, err := expand(views, p, l.Qty)
	if err != nil {
		return err
	}
	anyTracked := false
	for _, pt := range ps {
		batch := ""
		if pt.product.BatchTracked {
			anyTracked = true
			if l.Batch == "" {
				return fault.Invalidf("batch", "required", "product %s is received by batch", pt.product.ID)
			}
			if err := checkCode("batch", l.Batch, "batch"); err != nil {
				return err
			}
			batch = l.Batch
			b := &whv1.Batch{Product: pt.product.ID, Batch: batch, ProducedMs: ms(l.Produced), ReceivedMs: ms(now), ExpiresMs: ms(l.Expires)}
			if l.Expires.IsZero() && pt.product.ExpiryDays > 0 {
				base := l.Produced
				if base.IsZero() {
					base = now
				}
				b.ExpiresMs = ms(base.AddDate(0, 0, int(pt.product.ExpiryDays)))
			}
			if err := batches.add(b); err != nil {
				return err
			}
		}
		lines.add(&whv1.Line{Product: pt.product.ID, Bin: l.Bin, Batch: batch, Qty: pt.qty, Bundle: pt.bundle})
	}
	if l.Batch != "" && !anyTracked {
		return fault.Invalidf("batch", "not_tracked", "product %s has no batches", l.Product)
	}
	return nil
}

// RecordReceipt decides the event recording receipt r as move id (a new
// ULID) at node, which must own the warehouse.
func RecordReceipt(views replication.Tx, node, id string, r Receipt, now time.Time) (replication.Draft, error) {
	w, err := newMove(views, node, id, r.Warehouse, r.Ref, r.Note)
	if err != nil {
		return replication.Draft{}, err
	}
	if r.Type == "" && r.PurchaseOrder != "" {
		r.Type = ReceiptPurchase
	}
	if !slices.Contains(ReceiptTypes, r.Type) {
		return replication.Draft{}, fault.Invalidf("type", "bad_type", "%q is not a receipt type", r.Type)
	}
	if err := checkLineCount(len(r.Lines)); err != nil {
		return replication.Draft{}, err
	}
	var po *PurchaseOrder
	if r.PurchaseOrder != "" {
		if po, err = receivablePO(views, r.PurchaseOrder, w.ID, r.Type); err != nil {
			return replication.Draft{}, err
		}
	}
	var lines lineSet
	batches := batchSet{}
	for _, l := range r.Lines {
		if err := receiveLine(views, w, l, now, &lines, batches); err != nil {
			return replication.Draft{}, err
		}
	}
	if len(lines.lines) > MaxLines {
		return replication.Draft{}, fault.Invalidf("lines", "too_many", "at most %d lines once bundles are expanded", MaxLines)
	}
	if po != nil {
		for _, l := range lines.lines {
			if !slices.ContainsFunc(po.Lines, func(pl POLine) bool { return pl.Product == l.Product }) {
				return replication.Draft{}, fault.Invalidf("product", "not_on_order", "%s is not on purchase order %s", l.Product, po.ID)
			}
		}
	}
	return replication.Draft{Kind: KindStockMoved, Entity: MoveEntity(id), Body: &whv1.StockMoved{
		Warehouse: w.ID, Direction: DirReceipt, Type: r.Type, Lines: lines.lines, Batches: batches.list(),
		PurchaseOrder: r.PurchaseOrder, Ref: r.Ref, Note: r.Note, AtMs: ms(now)}}, nil
}

// RecordIssue decides the event recording issue is as move id at node,
// which must own the warehouse. Each line takes batches first in, first
// out (or by expiry) from its bin; more than the bin holds is refused with
// insufficient_stock and nothing is written.
func RecordIssue(views replication.Tx, node, id string, is Issue, now time.Time) (replication.Draft, error) {
	w, err := newMove(views, node, id, is.Warehouse, is.Ref, is.Note)
	if err != nil {
		return replication.Draft{}, err
	}
	if !slices.Contains(IssueTypes, is.Type) {
		return replication.Draft{}, fault.Invalidf("type", "bad_type", "%q is not an issue type", is.Type)
	}
	if err := checkLineCount(len(is.Lines)); err != nil {
		return replication.Draft{}, err
	}
	pk := newPicker(views, w)
	var lines lineSet
	for _, l := range is.Lines {
		if err := checkQty("quantity", l.Qty); err != nil {
			return replication.Draft{}, err
		}
		if _, err := needBin(w, "bin", l.Bin); err != nil {
			return replication.Draft{}, err
		}
		p, err := needProduct(views, "product", l.Product)
		if err != nil {
			return replication.Draft{}, err
		}
		ls, err := pk.takeParts(p, []string{l.Bin}, l.Batch, l.Qty)
		if err != nil {
			return replication.Draft{}, err
		}
		for _, x := range ls {
			lines.add(x)
		}
	}
	if len(lines.lines) > MaxLines {
		return replication.Draft{}, fault.Invalidf("lines", "too_many", "at most %d lines once batches are picked", MaxLines)
	}
	return replication.Draft{Kind: KindStockMoved, Entity: MoveEntity(id), Body: &whv1.StockMoved{
		Warehouse: w.ID, Direction: DirIssue, Type: is.Type, Lines: lines.lines, Ref: is.Ref, Note: is.Note, AtMs: ms(now)}}, nil
}

// RecordBinMove decides the event moving stock between bins (e.g. good →
// defective) as move id at node, which must own the warehouse.
func RecordBinMove(views replication.Tx, node, id string, m BinMove, now time.Time) (replication.Draft, error) {
	w, err := newMove(views, node, id, m.Warehouse, "", m.Note)
	if err != nil {
		return replication.Draft{}, err
	}
	if err := checkLineCount(len(m.Lines)); err != nil {
		return replication.Draft{}, err
	}
	pk := newPicker(views, w)
	var lines lineSet
	for _, l := range m.Lines {
		if err := checkQty("quantity", l.Qty); err != nil {
			return replication.Draft{}, err
		}
		if _, err := needBin(w, "from", l.From); err != nil {
			return replication.Draft{}, err
		}
		if _, err := needBin(w, "to", l.To); err != nil {
			return replication.Draft{}, err
		}
		if l.From == l.To {
			return replication.Draft{}, fault.Invalidf("to", "same_bin", "from and to are the same bin")
		}
		p, err := needProduct(views, "product", l.Product)
		if err != nil {
			return replication.Draft{}, err
		}
		out, err := pk.takeParts(p, []string{l.From}, l.Batch, l.Qty)
		if err != nil {
			return replication.Draft{}, err
		}
		for _, x := range out {
			lines.add(x)
			lines.add(&whv1.Line{Product: x.Product, Bin: l.To, Batch: x.Batch, Qty: -x.Qty, Bundle: x.Bundle})
		}
	}
	if len(lines.lines) > MaxLines {
		return replication.Draft{}, fault.Invalidf("lines", "too_many", "at most %d lines once batches are picked", MaxLines)
	}
	return replication.Draft{Kind: KindStockMoved, Entity: MoveEntity(id), Body: &whv1.StockMoved{
		Warehouse: w.ID, Direction: DirBinMove, Type: DirBinMove, Lines: lines.lines, Note: m.Note, AtMs: ms(now)}}, nil
}

func moveID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "move/")
	return id, ok && replication.ValidULID(id)
}

// checkText validates the ref and note an event carries.
func checkText(ref, note string) error {
	if err := checkLine("ref", ref, maxRef, false); err != nil {
		return err
	}
	return checkNote("note", note)
}

func checkStockMoved(ev *replication.Event, b *whv1.StockMoved) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	var sign int64
	switch b.GetDirection() {
	case DirReceipt:
		sign = 1
		if !slices.Contains(ReceiptTypes, b.GetType()) {
			return fault.Invalidf("type", "bad_type", "%q is not a receipt type", b.GetType())
		}
	case DirIssue:
		sign = -1
		if !slices.Contains(IssueTypes, b.GetType()) {
			return fault.Invalidf("type", "bad_type", "%q is not an issue type", b.GetType())
		}
	case DirBinMove:
		if b.GetType() != DirBinMove {
			return fault.Invalidf("type", "bad_type", "%q is not a bin move type", b.GetType())
		}
	default:
		return fault.Invalidf("direction", "bad_direction", "%q is not a move direction", b.GetDirection())
	}
	if err := checkLines("lines", b.GetLines(), sign, true); err != nil {
		return err
	}
	if b.GetDirection() == DirBinMove {
		sums := map[string]int64{}
		for _, l := range b.GetLines() {
			sums[l.GetProduct()+"\x00"+l.GetBatch()] += l.GetQty()
		}
		for k, n := range sums {
			if n != 0 {
				return fault.Invalidf("lines", "unbalanced", "bin move of %q does not balance", k)
			}
		}
	}
	if err := checkBatches(b.GetBatches()); err != nil {
		return err
	}
	if po := b.GetPurchaseOrder(); po != "" && (!replication.ValidULID(po) || b.GetDirection() != DirReceipt) {
		return fault.Invalidf("purchase_order", "bad_id", "%q is not a purchase order of a receipt", po)
	}
	if b.GetAtMs() <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return checkText(b.GetRef(), b.GetNote())
}

func applyStockMoved(tx replication.Tx, ev *replication.Event, b *whv1.StockMoved) error {
	id, ok := moveID(ev)
	if !ok {
		return nil
	}
	if err := applyBatches(tx, ev, b.GetBatches()); err != nil {
		return err
	}
	_, err := commitRecord(tx, ev, id, &whv1.MoveRecord{Move: b})
	return err
}
