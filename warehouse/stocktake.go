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

// Event kinds of stocktakes (盘点).
const (
	KindStocktakeOpened    = "warehouse.stocktake.opened"
	KindStocktakeCounted   = "warehouse.stocktake.counted"
	KindStocktakePosted    = "warehouse.stocktake.posted"
	KindStocktakeCancelled = "warehouse.stocktake.cancelled"
)

// Stocktake types.
const (
	StocktakePeriodic = "periodic"
	StocktakeOffset   = "offset"
	StocktakeInitial  = "initial"
	StocktakeOther    = "other"
)

// StocktakeTypes lists the stocktake types.
var StocktakeTypes = []string{StocktakePeriodic, StocktakeOffset, StocktakeInitial, StocktakeOther}

// Stocktake states: posted beats cancelled beats open.
const (
	StocktakeOpen      = "open"
	StocktakePosted    = "posted"
	StocktakeCancelled = "cancelled"
)

// maxSheetProducts bounds the products a sheet names.
const maxSheetProducts = 200

// StocktakeSpec is a count sheet to open: all of a warehouse's stock, or
// of one bin and/or some products.
type StocktakeSpec struct {
	Warehouse string
	Type      string
	Bin       string
	Products  []string
	Note      string
	// Blind hides the book quantities on the sheet until it is posted.
	Blind bool
}

// Count is a counted quantity of one line of a sheet.
type Count struct {
	Product string
	Bin     string
	Batch   string
	Qty     int64
}

// StocktakeLine is one line of a count sheet.
type StocktakeLine struct {
	Product string
	Bin     string
	Batch   string
	// Book is the quantity on the book when the sheet was opened.
	Book    int64
	Counted bool
	Count   int64
	// Delta is Count − Book, what posting adds on top of the moves made
	// since the sheet was opened.
	Delta int64
}

// Stocktake is a count sheet.
type Stocktake struct {
	ID        string
	Warehouse string
	Type      string
	Bin       string
	Products  []string
	Note      string
	Status    string
	Opened    time.Time
	Posted    time.Time
	// Blind: the sheet hides the book quantities until it is posted.
	Blind bool
	Lines []StocktakeLine
	// Conflicts counts posts that lost to the first one; their deltas
	// were not applied.
	Conflicts int
}

// StocktakeEntity is the entity of stocktake id.
func StocktakeEntity(id string) string { return "stocktake/" + id }

func stKey(id string) []byte { return key("st", id) }
func stCountKey(id, p, bin, batch string) []byte {
	return key("stc", id, p, bin, batch)
}
func stPostKey(id string, s replication.Stamp) []byte {
	return key("stp", id, fmt.Sprintf("%016x", uint64(s.HLC)), s.Origin)
}
func stCancelKey(id string) []byte       { return key("stx", id) }
func stOpenKey(wh, id string) []byte     { return key("sto", wh, id) }
func stIndexKey(wh, id string) []byte    { return key("sti", wh, rev(id)) }
func lineID(p, bin, batch string) string { return p + "\x00" + bin + "\x00" + batch }

// overlaps reports whether two sheets may count the same stock.
func overlaps(a, b *Stocktake) bool {
	if a.Bin != "" && b.Bin != "" && a.Bin != b.Bin {
		return false
	}
	if len(a.Products) == 0 || len(b.Products) == 0 {
		return true
	}
	return slices.ContainsFunc(a.Products, func(p string) bool { return slices.Contains(b.Products, p) })
}

// OpenStocktake decides the event opening count sheet id (a new ULID) at
// node, which must own the warehouse. The event records the book quantity
// of every line of the sheet now; a sheet may not overlap another open
// sheet of the warehouse (both would correct the same stock).
func OpenStocktake(views replication.Tx, node, id string, s StocktakeSpec, now time.Time) (replication.Draft, error) {
	if err := checkULID("id", id); err != nil {
		return replication.Draft{}, err
	}
	if !slices.Contains(StocktakeTypes, s.Type) {
		return replication.Draft{}, fault.Invalidf("type", "bad_type", "%q is not a stocktake type", s.Type)
	}
	if err := checkNote("note", s.Note); err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, stKey(id)); err != nil || ok {
		return replication.Draft{}, cmpErr(err, fmt.Errorf("stocktake %s exists: %w", id, fault.ErrConflict))
	}
	w, err := ownWarehouse(views, "warehouse", s.Warehouse, node)
	if err != nil {
		return replication.Draft{}, err
	}
	if s.Bin != "" {
		if _, err := needBin(w, "bin", s.Bin); err != nil {
			return replication.Draft{}, err
		}
	}
	if len(s.Products) > maxSheetProducts {
		return replication.Draft{}, fault.Invalidf("products", "too_many", "at most %d products", maxSheetProducts)
	}
	products := slices.Clone(s.Products)
	slices.Sort(products)
	products = slices.Compact(products)
	for _, id := range products {
		p, err := needProduct(views, "products", id)
		if err != nil {
			return replication.Draft{}, err
		}
		if p.IsBundle() {
			return replication.Draft{}, fault.Invalidf("products", "bundle", "bundle %s holds no stock; count its components", id)
		}
	}
	sheet := &Stocktake{Bin: s.Bin, Products: products}
	op := prefix("sto", w.ID)
	var open []string
	err = views.Scan(op, nil, func(k, _ []byte) (bool, error) {
		open = append(open, string(k[len(op):]))
		return true, nil
	})
	if err != nil {
		return replication.Draft{}, err
	}
	for _, o := range open {
		other, err := GetStocktake(views, o)
		if err != nil {
			return replication.Draft{}, err
		}
		if other.Status == StocktakeOpen && overlaps(sheet, other) {
			return replication.Draft{}, fmt.Errorf("stocktake %s is open on the same stock: %w", o, fault.ErrConflict)
		}
	}
	b := &whv1.StocktakeOpened{Warehouse: w.ID, Type: s.Type, Bin: s.Bin, Products: products, Note: s.Note, AtMs: ms(now), Blind: s.Blind}
	scan := func(p []byte, product string) error {
		return views.Scan(p, nil, func(k, v []byte) (bool, error) {
			ps := parts(k, p)
			if product != "" {
				ps = append([]string{product}, ps...)
			}
			if len(ps) != 3 || (s.Bin != "" && ps[1] != s.Bin) {
				return true, nil
			}
			q, err := counterValue(v)
			if err != nil {
				return false, err
			}
			if len(b.Book) == MaxLines {
				return false, fault.Invalidf("products", "too_many_lines", "more than %d lines; count by bin or by products", MaxLines)
			}
			b.Book = append(b.Book, &whv1.Line{Product: ps[0], Bin: ps[1], Batch: ps[2], Qty: q})
			return true, nil
		})
	}
	if len(products) == 0 {
		err = scan(prefix("s", w.ID), "")
	} else {
		for _, p := range products {
			if err = scan(prefix("s", w.ID, p), p); err != nil {
				break
			}
		}
	}
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindStocktakeOpened, Entity: StocktakeEntity(id), Body: b}, nil
}

// openSheet reads sheet id for a change at node: open, and node owns
// its warehouse.
func openSheet(views replication.Tx, node, id string) (*Stocktake, *Warehouse, error) {
	st, err := GetStocktake(views, id)
	if err != nil {
		return nil, nil, err
	}
	w, err := ownWarehouse(views, "warehouse", st.Warehouse, node)
	if err != nil {
		return nil, nil, err
	}
	switch st.Status {
	case StocktakePosted:
		return nil, nil, fmt.Errorf("count sheet %s already posted: %w", id, fault.ErrConflict)
	case StocktakeCancelled:
		return nil, nil, fmt.Errorf("count sheet %s is cancelled: %w", id, fault.ErrConflict)
	}
	return st, w, nil
}

// RecordCount decides the event recording counted quantities on sheet
// id at node. Each line is its own register: counting a line again
// replaces the count. Lines not on the book (a batch found) may be
// counted when they are within the sheet's bin and products.
func RecordCount(views replication.Tx, node, id string, counts []Count) (replication.Draft, error) {
	st, w, err := openSheet(views, node, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if err := checkLineCount(len(counts)); err != nil {
		return replication.Draft{}, err
	}
	known := map[string]bool{}
	for _, l := range st.Lines {
		known[lineID(l.Product, l.Bin, l.Batch)] = true
	}
	b := &whv1.StocktakeCounted{}
	for _, c := range counts {
		if c.Qty < 0 || c.Qty > MaxQty {
			return replication.Draft{}, fault.Invalidf("quantity", "bad_qty", "a count is 0 to %d, not %d", MaxQty, c.Qty)
		}
		p, err := needProduct(views, "product", c.Product)
		if err != nil {
			return replication.Draft{}, err
		}
		if p.IsBundle() || (len(st.Products) > 0 && !slices.Contains(st.Products, p.ID)) {
			return replication.Draft{}, fault.Invalidf("product", "not_on_sheet", "%s is not on count sheet %s", p.ID, id)
		}
		if _, err := needBin(w, "bin", c.Bin); err != nil {
			return replication.Draft{}, err
		}
		if st.Bin != "" && c.Bin != st.Bin {
			return replication.Draft{}, fault.Invalidf("bin", "not_on_sheet", "bin %s is not on count sheet %s", c.Bin, id)
		}
		switch {
		case p.BatchTracked && c.Batch == "":
			return replication.Draft{}, fault.Invalidf("batch", "required", "product %s is counted by batch", p.ID)
		case !p.BatchTracked && c.Batch != "":
			return replication.Draft{}, fault.Invalidf("batch", "not_tracked", "product %s has no batches", p.ID)
		case c.Batch != "":
			if err := checkCode("batch", c.Batch, "batch"); err != nil {
				return replication.Draft{}, err
			}
		}
		known[lineID(p.ID, c.Bin, c.Batch)] = true
		b.Counts = append(b.Counts, &whv1.Line{Product: p.ID, Bin: c.Bin, Batch: c.Batch, Qty: c.Qty})
	}
	if len(known) > MaxLines {
		return replication.Draft{}, fault.Invalidf("lines", "too_many", "a sheet has at most %d lines", MaxLines)
	}
	return replication.Draft{Kind: KindStocktakeCounted, Entity: StocktakeEntity(id), Body: b}, nil
}

// PostStocktake decides the event posting sheet id at node, which must
// own the warehouse: for every counted line, the delta counted −
// book-at-open, which lands on top of the moves made since the open, so
// none is lost. Lines not counted are left as they are. A sheet posts
// once (a second post is a conflict); a count that would leave a line
// negative (stock issued since the open that the count already missed)
// is refused, to be counted again.
func PostStocktake(views replication.Tx, node, id string, now time.Time) (replication.Draft, error) {
	st, w, err := openSheet(views, node, id)
	if err != nil {
		return replication.Draft{}, err
	}
	b := &whv1.StocktakePosted{Warehouse: w.ID, AtMs: ms(now)}
	counted := false
	for _, l := range st.Lines {
		if !l.Counted {
			continue
		}
		counted = true
		if l.Delta == 0 {
			continue
		}
		cur, err := replication.GetCounter(views, lineKey(w.ID, l.Product, l.Bin, l.Batch))
		if err != nil {
			return replication.Draft{}, err
		}
		if cur+l.Delta < 0 {
			return replication.Draft{}, fault.Invalidf("count", "negative_stock",
				"%s in bin %s batch %q: %d on the book at the open, %d counted, but only %d on hand now; count it again",
				l.Product, l.Bin, l.Batch, l.Book, l.Count, cur)
		}
		b.Deltas = append(b.Deltas, &whv1.Line{Product: l.Product, Bin: l.Bin, Batch: l.Batch, Qty: l.Delta})
	}
	if !counted {
		return replication.Draft{}, fault.Invalidf("lines", "nothing_counted", "nothing was counted on sheet %s", id)
	}
	return replication.Draft{Kind: KindStocktakePosted, Entity: StocktakeEntity(id), Body: b}, nil
}

// CancelStocktake decides the event abandoning open sheet id at node.
func CancelStocktake(views replication.Tx, node, id, note string) (replication.Draft, error) {
	if err := checkNote("note", note); err != nil {
		return replication.Draft{}, err
	}
	if _, _, err := openSheet(views, node, id); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindStocktakeCancelled, Entity: StocktakeEntity(id), Body: &whv1.StocktakeCancelled{Note: note}}, nil
}

func stocktakeID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "stocktake/")
	return id, ok && replication.ValidULID(id)
}

func checkStocktakeOpened(ev *replication.Event, b *whv1.StocktakeOpened) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	if !slices.Contains(StocktakeTypes, b.GetType()) {
		return fault.Invalidf("type", "bad_type", "%q is not a stocktake type", b.GetType())
	}
	if b.GetBin() != "" && !ValidCode(b.GetBin()) {
		return fault.Invalidf("bin", "bad_code", "bad bin %q", b.GetBin())
	}
	if len(b.GetProducts()) > maxSheetProducts {
		return fault.Invalidf("products", "too_many", "at most %d", maxSheetProducts)
	}
	for _, p := range b.GetProducts() {
		if !ValidCode(p) {
			return fault.Invalidf("products", "bad_code", "bad product %q", p)
		}
	}
	if len(b.GetBook()) > 0 {
		if err := checkLines("book", b.GetBook(), 0, true); err != nil {
			return err
		}
	}
	if b.GetAtMs() <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return checkNote("note", b.GetNote())
}

func isClosed(tx replication.Tx, id string) (bool, error) {
	posted := false
	err := tx.Scan(prefix("stp", id), nil, func(_, _ []byte) (bool, error) {
		posted = true
		return false, nil
	})
	if err != nil || posted {
		return posted, err
	}
	return exists(tx, stCancelKey(id))
}

func applyStocktakeOpened(tx replication.Tx, ev *replication.Event, b *whv1.StocktakeOpened) error {
	id, ok := stocktakeID(ev)
	if !ok || !ValidCode(b.GetWarehouse()) {
		return nil
	}
	won, prev, had, err := recordFirst(tx, stKey(id), b, ev)
	if err != nil || !won {
		return err
	}
	if had {
		var old whv1.StocktakeOpened
		if proto.Unmarshal(prev.Value, &old) == nil && ValidCode(old.GetWarehouse()) {
			if err := tx.Delete(stIndexKey(old.GetWarehouse(), id)); err != nil {
				return err
			}
			if err := tx.Delete(stOpenKey(old.GetWarehouse(), id)); err != nil {
				return err
			}
		}
	}
	if err := tx.Set(stIndexKey(b.GetWarehouse(), id), nil); err != nil {
		return err
	}
	if closed, err := isClosed(tx, id); err != nil || closed {
		return err
	}
	return tx.Set(stOpenKey(b.GetWarehouse(), id), nil)
}

func checkStocktakeCounted(ev *replication.Event, b *whv1.StocktakeCounted) error {
	if len(b.GetCounts()) == 0 || len(b.GetCounts()) > MaxLines {
		return fault.Invalidf("counts", "bad_count", "1 to %d lines", MaxLines)
	}
	for _, l := range b.GetCounts() {
		if !validLine(l) || l.GetQty() < 0 || l.GetQty() > MaxQty {
			return fault.Invalidf("counts", "bad_line", "bad count line %v", l)
		}
	}
	return nil
}

func applyStocktakeCounted(tx replication.Tx, ev *replication.Event, b *whv1.StocktakeCounted) error {
	id, ok := stocktakeID(ev)
	if !ok {
		return nil
	}
	s := replication.StampOf(ev)
	for _, l := range b.GetCounts() {
		if !validLine(l) || l.GetQty() < 0 {
			continue
		}
		k := stCountKey(id, l.GetProduct(), l.GetBin(), l.GetBatch())
		if _, _, err := replication.SetRegister(tx, k, []byte(strconv.FormatInt(l.GetQty(), 10)), s); err != nil {
			return err
		}
	}
	return nil
}

func checkStocktakePosted(ev *replication.Event, b *whv1.StocktakePosted) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	if len(b.GetDeltas()) > 0 {
		if err := checkLines("deltas", b.GetDeltas(), 0, true); err != nil {
			return err
		}
	}
	if b.GetAtMs() <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return nil
}

// applyStocktakePosted keeps every post of the sheet and lets only the
// first (by stamp) change the stock: it claims the sheet's ".post" record,
// and a later post loses the claim (a conflict); an earlier post arriving
// later takes the claim and the deltas of the one it displaces are taken
// back.
func applyStocktakePosted(tx replication.Tx, ev *replication.Event, b *whv1.StocktakePosted) error {
	id, ok := stocktakeID(ev)
	if !ok || !ValidCode(b.GetWarehouse()) {
		return nil
	}
	if err := tx.Set(stPostKey(id, replication.StampOf(ev)), nil); err != nil {
		return err
	}
	if err := tx.Delete(stOpenKey(b.GetWarehouse(), id)); err != nil {
		return err
	}
	_, err := commitRecord(tx, ev, id+sufPost, &whv1.MoveRecord{Move: &whv1.StockMoved{
		Warehouse: b.GetWarehouse(), Direction: DirStocktake, Type: DirStocktake, Lines: b.GetDeltas(), Ref: id, AtMs: b.GetAtMs()}})
	return err
}

func checkStocktakeCancelled(ev *replication.Event, b *whv1.StocktakeCancelled) error {
	return checkNote("note", b.GetNote())
}

func applyStocktakeCancelled(tx replication.Tx, ev *replication.Event, b *whv1.StocktakeCancelled) error {
	id, ok := stocktakeID(ev)
	if !ok {
		return nil
	}
	if _, _, err := replication.SetRegister(tx, stCancelKey(id), []byte(b.GetNote()), replication.StampOf(ev)); err != nil {
		return err
	}
	var o whv1.StocktakeOpened
	if _, ok, err := readFirst(tx, stKey(id), &o); err != nil || !ok || !ValidCode(o.GetWarehouse()) {
		return err
	}
	return tx.Delete(stOpenKey(o.GetWarehouse(), id))
}

// GetStocktake reads sheet id with its lines: the book at the open and
// the counts, sorted by product, bin and batch.
func GetStocktake(views replication.Tx, id string) (*Stocktake, error) {
	var o whv1.StocktakeOpened
	_, err := readRecord(views, "stocktake", id, stKey, &o)
	if err != nil {
		return nil, err
	}
	st := &Stocktake{ID: id, Warehouse: o.GetWarehouse(), Type: o.GetType(), Bin: o.GetBin(), Products: o.GetProducts(),
		Note: o.GetNote(), Status: StocktakeOpen, Opened: fromMs(o.GetAtMs()), Blind: o.GetBlind()}
	lines := map[string]*StocktakeLine{}
	for _, l := range o.GetBook() {
		lines[lineID(l.GetProduct(), l.GetBin(), l.GetBatch())] = &StocktakeLine{Product: l.GetProduct(), Bin: l.GetBin(), Batch: l.GetBatch(), Book: l.GetQty()}
	}
	cp := prefix("stc", id)
	err = views.Scan(cp, nil, func(k, v []byte) (bool, error) {
		ps := parts(k, cp)
		reg, err := replication.DecodeRegister(v)
		if err != nil || len(ps) != 3 {
			return false, fmt.Errorf("count %q: bad", k)
		}
		n, err := strconv.ParseInt(string(reg.Value), 10, 64)
		if err != nil {
			return false, fmt.Errorf("count %q: %w", k, err)
		}
		l, ok := lines[lineID(ps[0], ps[1], ps[2])]
		if !ok {
			l = &StocktakeLine{Product: ps[0], Bin: ps[1], Batch: ps[2]}
			lines[lineID(ps[0], ps[1], ps[2])] = l
		}
		l.Counted, l.Count, l.Delta = true, n, n-l.Book
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		st.Lines = append(st.Lines, *l)
	}
	slices.SortFunc(st.Lines, func(a, b StocktakeLine) int {
		return strings.Compare(lineID(a.Product, a.Bin, a.Batch), lineID(b.Product, b.Bin, b.Batch))
	})
	posts := 0
	err = views.Scan(prefix("stp", id), nil, func(_, _ []byte) (bool, error) {
		posts++
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if posts > 0 {
		st.Status, st.Conflicts = StocktakePosted, posts-1
		if m, err := GetMove(views, id+sufPost); err == nil {
			st.Posted = m.At
		} else if !isNotFound(err) {
			return nil, err
		}
	} else if c, err := exists(views, stCancelKey(id)); err != nil {
		return nil, err
	} else if c {
		st.Status = StocktakeCancelled
	}
	return st, nil
}

// ListStocktakes returns up to limit sheets of warehouse wh, newest first,
// after the page token.
func ListStocktakes(views replication.Tx, wh, token string, limit int) ([]*Stocktake, string, error) {
	return listNewest(views, "sti", wh, token, limit, GetStocktake)
}
