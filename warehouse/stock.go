package warehouse

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// Directions of the entries of the move history.
const (
	DirReceipt     = "receipt"
	DirIssue       = "issue"
	DirBinMove     = "bin_move"
	DirStocktake   = "stocktake"
	DirTransferOut = "transfer_out"
	DirTransferIn  = "transfer_in"
)

// Suffixes of history records that are not moves of their own: the
// stock changes of a transfer's two ends, a stocktake's post and a
// reservation's shipment, recorded under their entity's ULID.
const (
	sufOut  = ".out"
	sufIn   = ".in"
	sufPost = ".post"
	sufShip = ".ship"
)

func lineKey(wh, p, bin, batch string) []byte { return key("s", wh, p, bin, batch) }
func totalKey(wh, p string) []byte            { return key("t", wh, p) }
func batchTotalKey(wh, p, batch string) []byte {
	return key("bw", wh, p, batch)
}
func batchInfoKey(p, batch string) []byte { return key("bi", p, batch) }
func recordKey(id string) []byte          { return key("m", id) }

var marshal = proto.MarshalOptions{Deterministic: true}

// validLine reports whether an event's line names valid codes: appliers
// skip the others (checks refuse them before).
func validLine(l *whv1.Line) bool {
	return ValidCode(l.GetProduct()) && ValidCode(l.GetBin()) && (l.GetBatch() == "" || ValidCode(l.GetBatch()))
}

// checkLines validates the lines of an event: sign +1 wants every qty
// positive, -1 negative, 0 any but zero.
func checkLines(field string, lines []*whv1.Line, sign int64, needBin bool) error {
	if len(lines) == 0 || len(lines) > MaxLines {
		return fault.Invalidf(field, "bad_count", "1 to %d lines", MaxLines)
	}
	for _, l := range lines {
		switch {
		case !ValidCode(l.GetProduct()):
			return fault.Invalidf(field, "bad_code", "bad product %q", l.GetProduct())
		case needBin && !ValidCode(l.GetBin()), !needBin && l.GetBin() != "":
			return fault.Invalidf(field, "bad_code", "bad bin %q", l.GetBin())
		case l.GetBatch() != "" && !ValidCode(l.GetBatch()):
			return fault.Invalidf(field, "bad_code", "bad batch %q", l.GetBatch())
		case l.GetBundle() != "" && !ValidCode(l.GetBundle()):
			return fault.Invalidf(field, "bad_code", "bad bundle %q", l.GetBundle())
		case l.GetQty() == 0, l.GetQty() > MaxQty, l.GetQty() < -MaxQty:
			return fault.Invalidf(field, "bad_qty", "quantity %d out of range", l.GetQty())
		case sign > 0 && l.GetQty() < 0, sign < 0 && l.GetQty() > 0:
			return fault.Invalidf(field, "bad_sign", "quantity %d has the wrong sign", l.GetQty())
		}
	}
	return nil
}

func checkBatches(bs []*whv1.Batch) error {
	if len(bs) > MaxLines {
		return fault.Invalidf("batches", "too_many", "at most %d", MaxLines)
	}
	for _, b := range bs {
		if !ValidCode(b.GetProduct()) || !ValidCode(b.GetBatch()) || b.GetProducedMs() < 0 || b.GetReceivedMs() < 0 || b.GetExpiresMs() < 0 {
			return fault.Invalidf("batches", "bad_batch", "bad batch %q of %q", b.GetBatch(), b.GetProduct())
		}
	}
	return nil
}

// applyBatches records the dates of batches; the first record of a batch
// wins.
func applyBatches(tx replication.Tx, ev *replication.Event, bs []*whv1.Batch) error {
	s := replication.StampOf(ev)
	for _, b := range bs {
		if !ValidCode(b.GetProduct()) || !ValidCode(b.GetBatch()) {
			continue
		}
		v, err := marshal.Marshal(&whv1.Batch{ProducedMs: b.GetProducedMs(), ReceivedMs: b.GetReceivedMs(), ExpiresMs: b.GetExpiresMs()})
		if err != nil {
			return err
		}
		if _, _, _, err := setFirst(tx, batchInfoKey(b.GetProduct(), b.GetBatch()), v, s); err != nil {
			return err
		}
	}
	return nil
}

// BatchDates are the dates of a batch; zero when not known.
type BatchDates struct {
	Produced, Received, Expires time.Time
}

func batchDates(views replication.Tx, product, batch string) (BatchDates, error) {
	if batch == "" {
		return BatchDates{}, nil
	}
	var b whv1.Batch
	if _, _, err := readFirst(views, batchInfoKey(product, batch), &b); err != nil {
		return BatchDates{}, err
	}
	return BatchDates{Produced: fromMs(b.GetProducedMs()), Received: fromMs(b.GetReceivedMs()), Expires: fromMs(b.GetExpiresMs())}, nil
}

// batchProto returns the dates of a batch as an event carries them.
func batchProto(views replication.Tx, product, batch string) (*whv1.Batch, bool, error) {
	if batch == "" {
		return nil, false, nil
	}
	d, err := batchDates(views, product, batch)
	if err != nil || d == (BatchDates{}) {
		return nil, false, err
	}
	return &whv1.Batch{Product: product, Batch: batch, ProducedMs: ms(d.Produced), ReceivedMs: ms(d.Received), ExpiresMs: ms(d.Expires)}, true, nil
}

// commitRecord makes rec the history record recID if ev is the first
// event (by stamp) to claim recID, taking back the deltas of the record
// it displaces; it reports whether ev won. This is the only way stock
// counters change, so on every replica stock is the sum of the lines of
// the winning records, whatever order the events came in.
func commitRecord(tx replication.Tx, ev *replication.Event, recID string, rec *whv1.MoveRecord) (bool, error) {
	rec.Actor = ev.Actor
	v, err := marshal.Marshal(rec)
	if err != nil {
		return false, err
	}
	won, prev, had, err := setFirst(tx, recordKey(recID), v, replication.StampOf(ev))
	if err != nil || !won {
		return false, err
	}
	if had {
		var old whv1.MoveRecord
		if err := proto.Unmarshal(prev.Value, &old); err == nil {
			if err := recordEffects(tx, recID, &old, -1); err != nil {
				return false, err
			}
			for _, k := range recordIndexes(recID, &old) {
				if err := tx.Delete(k); err != nil {
					return false, err
				}
			}
		}
	}
	if err := recordEffects(tx, recID, rec, 1); err != nil {
		return false, err
	}
	for _, k := range recordIndexes(recID, rec) {
		if err := tx.Set(k, []byte(recID)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// recordEffects adds sign × the deltas of a record: stock lines, and what
// depends on them — a purchase order's received quantities, a transfer's
// in-transit quantities, an escrow's backing.
func recordEffects(tx replication.Tx, recID string, rec *whv1.MoveRecord, sign int64) error {
	m := rec.GetMove()
	wh := m.GetWarehouse()
	if !ValidCode(wh) {
		return nil
	}
	base, _, _ := strings.Cut(recID, ".")
	for _, l := range m.GetLines() {
		if !validLine(l) {
			continue
		}
		p, d := l.GetProduct(), sign*l.GetQty()
		keys := [][]byte{lineKey(wh, p, l.GetBin(), l.GetBatch()), totalKey(wh, p)}
		if l.GetBatch() != "" {
			keys = append(keys, batchTotalKey(wh, p, l.GetBatch()))
		}
		switch dir := m.GetDirection(); {
		case dir == DirReceipt && m.GetType() == ReceiptPurchase && replication.ValidULID(m.GetPurchaseOrder()):
			keys = append(keys, poReceivedKey(m.GetPurchaseOrder(), p))
		case dir == DirIssue && rec.GetEscrow():
			keys = append(keys, backingKey(wh, p))
		case dir == DirTransferOut || dir == DirTransferIn:
			// Out lines are negative, in lines positive: in transit is
			// what left minus what arrived.
			if err := addCounters(tx, -d, transitKey(base, p, l.GetBatch())); err != nil {
				return err
			}
		}
		if err := addCounters(tx, d, keys...); err != nil {
			return err
		}
	}
	return nil
}

// recordIndexes are the history index keys of a record: all, by
// warehouse, by each product.
func recordIndexes(recID string, rec *whv1.MoveRecord) [][]byte {
	m := rec.GetMove()
	t, r := rtime(m.GetAtMs()), rev(recID)
	out := [][]byte{key("mg", t, r)}
	if ValidCode(m.GetWarehouse()) {
		out = append(out, key("mw", m.GetWarehouse(), t, r))
	}
	seen := map[string]bool{}
	for _, l := range m.GetLines() {
		if p := l.GetProduct(); ValidCode(p) && !seen[p] {
			seen[p] = true
			out = append(out, key("mp", p, t, r))
		}
	}
	return out
}

// StockLine is the quantity of a product in one bin and batch.
type StockLine struct {
	Bin     string
	BinKind string
	Batch   string
	Qty     int64
	BatchDates
}

// Stock is a product's stock in one warehouse. For a bundle, which holds
// none itself, the quantities are the whole bundles its components make.
type Stock struct {
	Warehouse string
	Product   string
	// OnHand is in every bin; Good in good bins only.
	OnHand int64
	Good   int64
	// Reserved is sold and not shipped.
	Reserved int64
	Safety   int64
	// Available (虚拟库存) is Good − Reserved − Safety.
	Available int64
	// InTransit is on its way here in transfers not yet received.
	InTransit int64
	Lines     []StockLine
}

func counterValue(v []byte) (int64, error) { return strconv.ParseInt(string(v), 10, 64) }

// stockOf computes the stock of product in w from its counters: a scan of
// the (warehouse, product) lines and a few reads.
func stockOf(views replication.Tx, w *Warehouse, product string, withLines bool) (*Stock, error) {
	st := &Stock{Warehouse: w.ID, Product: product}
	p := prefix("s", w.ID, product)
	err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
		ps := parts(k, p)
		q, err := counterValue(v)
		if err != nil || len(ps) != 2 {
			return false, fmt.Errorf("stock line %q: bad", k)
		}
		kind := BinOther
		if b, ok := w.Bin(ps[0]); ok {
			kind = b.Kind
		}
		st.OnHand += q
		if kind == BinGood {
			st.Good += q
		}
		if withLines {
			d, err := batchDates(views, product, ps[1])
			if err != nil {
				return false, err
			}
			st.Lines = append(st.Lines, StockLine{Bin: ps[0], BinKind: kind, Batch: ps[1], Qty: q, BatchDates: d})
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if st.Reserved, err = replication.GetCounter(views, reservedKey(w.ID, product)); err != nil {
		return nil, err
	}
	lim, err := getLimit(views, w.ID, product)
	if err != nil {
		return nil, err
	}
	st.Safety = lim.Safety
	st.Available = st.Good - st.Reserved - st.Safety
	st.InTransit, err = inTransitTo(views, w.ID, product)
	return st, err
}

// GetStock returns the stock of product in warehouse wh, by bin and
// batch. A bundle's stock is how many whole bundles its components make.
func GetStock(views replication.Tx, wh, product string) (*Stock, error) {
	w, err := GetWarehouse(views, wh)
	if err != nil {
		return nil, err
	}
	p, err := GetProduct(views, product)
	if err != nil {
		return nil, err
	}
	return productStockIn(views, w, p)
}

func productStockIn(views replication.Tx, w *Warehouse, p *Product) (*Stock, error) {
	if !p.IsBundle() {
		return stockOf(views, w, p.ID, true)
	}
	var st *Stock
	for _, c := range p.Components {
		cs, err := stockOf(views, w, c.Product, false)
		if err != nil {
			return nil, err
		}
		kits := &Stock{Warehouse: w.ID, Product: p.ID, OnHand: floorDiv(cs.OnHand, c.Qty), Good: floorDiv(cs.Good, c.Qty),
			Available: floorDiv(cs.Available, c.Qty), InTransit: floorDiv(cs.InTransit, c.Qty)}
		if st == nil {
			st = kits
			continue
		}
		st.OnHand, st.Good = min(st.OnHand, kits.OnHand), min(st.Good, kits.Good)
		st.Available, st.InTransit = min(st.Available, kits.Available), min(st.InTransit, kits.InTransit)
	}
	return st, nil
}

// floorDiv divides rounding down, so that −1 unit of a component makes
// −1 bundle, not 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ProductStock returns the stock of product in every warehouse that has
// some on hand, reserved or in transit.
func ProductStock(views replication.Tx, product string) ([]*Stock, error) {
	p, err := GetProduct(views, product)
	if err != nil {
		return nil, err
	}
	ws, err := ListWarehouses(views)
	if err != nil {
		return nil, err
	}
	var out []*Stock
	for _, w := range ws {
		st, err := productStockIn(views, w, p)
		if err != nil {
			return nil, err
		}
		if st.OnHand != 0 || st.Reserved != 0 || st.InTransit != 0 || len(st.Lines) > 0 {
			out = append(out, st)
		}
	}
	return out, nil
}

// ListStock returns the stock (without lines) of up to limit products on
// hand in warehouse wh, in product order, after the page token.
func ListStock(views replication.Tx, wh, token string, limit int) ([]*Stock, string, error) {
	w, err := GetWarehouse(views, wh)
	if err != nil {
		return nil, "", err
	}
	var out []*Stock
	p := prefix("t", wh)
	next, err := pageOf(views, p, token, limit, func(k, _ []byte) (bool, error) {
		st, err := stockOf(views, w, string(k[len(p):]), false)
		if err != nil {
			return false, err
		}
		out = append(out, st)
		return true, nil
	})
	return out, next, err
}

// Line is one line of a move: Qty of Product in Bin and Batch, signed
// (+ in, − out).
type Line struct {
	Product string
	Bin     string
	Batch   string
	Qty     int64
	// Bundle is the bundle the line was expanded from.
	Bundle string
}

func linesFrom(ls []*whv1.Line) []Line {
	out := make([]Line, len(ls))
	for i, l := range ls {
		out[i] = Line{Product: l.GetProduct(), Bin: l.GetBin(), Batch: l.GetBatch(), Qty: l.GetQty(), Bundle: l.GetBundle()}
	}
	return out
}

// Move is one entry of the move history.
type Move struct {
	// ID is the move's ULID, or the ULID of its transfer, stocktake or
	// reservation with ".out", ".in", ".post" or ".ship".
	ID            string
	Warehouse     string
	Direction     string
	Type          string
	Lines         []Line
	PurchaseOrder string
	Ref           string
	Note          string
	At            time.Time
	Actor         string
	Origin        string
}

// validRecordID reports whether id can name a history record.
func validRecordID(id string) bool {
	base, suf, dotted := strings.Cut(id, ".")
	if !replication.ValidULID(base) {
		return false
	}
	return !dotted || "."+suf == sufOut || "."+suf == sufIn || "."+suf == sufPost || "."+suf == sufShip
}

// GetMove reads the history record id.
func GetMove(views replication.Tx, id string) (*Move, error) {
	if !validRecordID(id) {
		return nil, fmt.Errorf("move %q: %w", id, fault.ErrNotFound)
	}
	var rec whv1.MoveRecord
	st, ok, err := readFirst(views, recordKey(id), &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("move %s: %w", id, fault.ErrNotFound)
	}
	m := rec.GetMove()
	return &Move{ID: id, Warehouse: m.GetWarehouse(), Direction: m.GetDirection(), Type: m.GetType(), Lines: linesFrom(m.GetLines()),
		PurchaseOrder: m.GetPurchaseOrder(), Ref: m.GetRef(), Note: m.GetNote(), At: fromMs(m.GetAtMs()),
		Actor: rec.GetActor(), Origin: st.Origin}, nil
}

// MoveFilter selects entries of the move history; zero fields select all.
type MoveFilter struct {
	Warehouse string
	// Warehouses, unless nil, are the only warehouses whose moves are
	// selected (an empty set selects none): a node's pages list the
	// moves of the warehouses it holds whole, not the transfer halves it
	// holds of others.
	Warehouses []string
	Product    string
	Direction  string
	Type       string
	// From and To bound the move's time, both included.
	From, To time.Time
}

// ListMoves returns up to limit entries of the move history matching f,
// newest first, after the page token, and the token of the next page.
// It scans the index of the product, else of the warehouse, else of all
// moves, from To down to From.
func ListMoves(views replication.Tx, f MoveFilter, token string, limit int) ([]*Move, string, error) {
	var p []byte
	switch {
	case f.Product != "":
		if !ValidCode(f.Product) {
			return nil, "", fault.Invalidf("product", "bad_code", "%q is not a product code", f.Product)
		}
		p = prefix("mp", f.Product)
	case f.Warehouse != "":
		if !ValidCode(f.Warehouse) {
			return nil, "", fault.Invalidf("warehouse", "bad_code", "%q is not a warehouse code", f.Warehouse)
		}
		p = prefix("mw", f.Warehouse)
	default:
		p = prefix("mg")
	}
	var first []byte
	if !f.To.IsZero() {
		first = append(append([]byte(nil), p...), rtime(f.To.UnixMilli())...)
	}
	from := int64(-1)
	if !f.From.IsZero() {
		from = f.From.UnixMilli()
	}
	var out []*Move
	next, err := pageFrom(views, p, first, token, limit, func(_, v []byte) (bool, error) {
		m, err := GetMove(views, string(v))
		if err != nil {
			return false, err
		}
		if ms(m.At) < from {
			return false, errStop
		}
		if (f.Warehouse != "" && m.Warehouse != f.Warehouse) || (f.Warehouses != nil && !slices.Contains(f.Warehouses, m.Warehouse)) ||
			(f.Direction != "" && m.Direction != f.Direction) || (f.Type != "" && m.Type != f.Type) {
			return false, nil
		}
		out = append(out, m)
		return true, nil
	})
	return out, next, err
}
