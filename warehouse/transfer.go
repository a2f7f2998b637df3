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

// Event kinds of transfers (调拨).
const (
	KindTransferShipped  = "warehouse.transfer.shipped"
	KindTransferReceived = "warehouse.transfer.received"
)

// Transfer states. A receipt recorded before the shipment is known at a
// replica is "received_early": its in-transit quantities are negative
// until the shipment arrives.
const (
	TransferInTransit     = "in_transit"
	TransferReceived      = "received"
	TransferReceivedEarly = "received_early"
)

// TransferType is the type of the history records of transfers.
const TransferType = "transfer"

// TransferSpec is a transfer to ship from warehouse From to To. Lines
// take from their Bin, else from Bin, else from From's good bins, first in
// first out unless a line pins a batch.
type TransferSpec struct {
	From  string
	To    string
	Bin   string
	Lines []IssueLine
	Note  string
}

// TransferReceipt is what arrived of a transfer. With no lines, everything
// shipped is received into Bin. From and To are needed only when the
// shipment is not known here yet.
type TransferReceipt struct {
	From  string
	To    string
	Bin   string
	Lines []ReceiptLine
	Note  string
}

// TransferLine sums a transfer by product and batch.
type TransferLine struct {
	Product  string
	Batch    string
	Shipped  int64
	Received int64
	// Damaged is the part received into bins that are not good.
	Damaged int64
	// Difference is shipped − received: in transit, or once received,
	// short (> 0) or over (< 0).
	Difference int64
}

// Transfer is a transfer between warehouses.
type Transfer struct {
	ID         string
	From       string
	To         string
	Status     string
	Note       string
	ShippedAt  time.Time
	ReceivedAt time.Time
	Lines      []TransferLine
	Shipped    []Line
	Received   []Line
	// Discrepancy says a received transfer's quantities differ from what
	// was shipped, or some arrived damaged.
	Discrepancy bool
}

// TransferEntity is the entity of transfer id.
func TransferEntity(id string) string { return "transfer/" + id }

func trShippedKey(id string) []byte         { return key("trs", id) }
func trReceivedKey(id string) []byte        { return key("trr", id) }
func transitKey(id, p, batch string) []byte { return key("tit", id, p, batch) }
func trOpenKey(to, id string) []byte        { return key("tro", to, id) }
func trIndexKey(wh, id string) []byte       { return key("tri", wh, rev(id)) }

// ShipTransfer decides the event shipping transfer id (a new ULID) at
// node, which must own the warehouse shipped from. The lines leave its
// bins (batches picked first in, first out) and are in transit until the
// other warehouse receives them.
func ShipTransfer(views replication.Tx, node, id string, t TransferSpec, now time.Time) (replication.Draft, error) {
	if err := checkULID("id", id); err != nil {
		return replication.Draft{}, err
	}
	if err := checkNote("note", t.Note); err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, trShippedKey(id)); err != nil || ok {
		return replication.Draft{}, cmpErr(err, fmt.Errorf("transfer %s is shipped: %w", id, fault.ErrConflict))
	}
	from, err := ownWarehouse(views, "from", t.From, node)
	if err != nil {
		return replication.Draft{}, err
	}
	to, err := needWarehouse(views, "to", t.To)
	if err != nil {
		return replication.Draft{}, err
	}
	if from.ID == to.ID {
		return replication.Draft{}, fault.Invalidf("to", "same_warehouse", "a transfer goes to another warehouse")
	}
	if err := checkLineCount(len(t.Lines)); err != nil {
		return replication.Draft{}, err
	}
	pk := newPicker(views, from)
	var lines lineSet
	for _, l := range t.Lines {
		if err := checkQty("quantity", l.Qty); err != nil {
			return replication.Draft{}, err
		}
		bins := from.GoodBins()
		if bin := cmpOr(l.Bin, t.Bin); bin != "" {
			if _, err := needBin(from, "bin", bin); err != nil {
				return replication.Draft{}, err
			}
			bins = []string{bin}
		}
		p, err := needProduct(views, "product", l.Product)
		if err != nil {
			return replication.Draft{}, err
		}
		ls, err := pk.takeParts(p, bins, l.Batch, l.Qty)
		if err != nil {
			return replication.Draft{}, err
		}
		for _, x := range ls {
			x.Qty = -x.Qty
			lines.add(x)
		}
	}
	if len(lines.lines) > MaxLines {
		return replication.Draft{}, fault.Invalidf("lines", "too_many", "at most %d lines once batches are picked", MaxLines)
	}
	batches, err := batchesOf(views, lines.lines)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindTransferShipped, Entity: TransferEntity(id), Body: &whv1.TransferShipped{
		From: from.ID, To: to.ID, Lines: lines.lines, Batches: batches, Note: t.Note, AtMs: ms(now)}}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ReceiveTransfer decides the event receiving transfer id at node, which
// must own the warehouse it goes to. It works whether or not the
// shipment is known here yet; what was shipped and not received (or the
// other way round) stays on the transfer as its discrepancy.
func ReceiveTransfer(views replication.Tx, node, id string, r TransferReceipt, now time.Time) (replication.Draft, error) {
	if err := checkULID("id", id); err != nil {
		return replication.Draft{}, err
	}
	if err := checkNote("note", r.Note); err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, trReceivedKey(id)); err != nil || ok {
		return replication.Draft{}, cmpErr(err, fmt.Errorf("transfer %s is received: %w", id, fault.ErrConflict))
	}
	shipped, err := shippedOf(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if shipped != nil {
		if (r.From != "" && r.From != shipped.GetFrom()) || (r.To != "" && r.To != shipped.GetTo()) {
			return replication.Draft{}, fault.Invalidf("to", "wrong_transfer", "transfer %s goes from %s to %s", id, shipped.GetFrom(), shipped.GetTo())
		}
		r.From, r.To = shipped.GetFrom(), shipped.GetTo()
	}
	to, err := ownWarehouse(views, "to", r.To, node)
	if err != nil {
		return replication.Draft{}, err
	}
	if _, err := needWarehouse(views, "from", r.From); err != nil {
		return replication.Draft{}, err
	}
	if r.From == r.To {
		return replication.Draft{}, fault.Invalidf("to", "same_warehouse", "a transfer goes to another warehouse")
	}
	if len(r.Lines) == 0 {
		if shipped == nil {
			return replication.Draft{}, fault.Invalidf("lines", "required", "transfer %s is not known here yet; list what arrived", id)
		}
		for _, l := range shipped.GetLines() {
			i := slices.IndexFunc(r.Lines, func(x ReceiptLine) bool { return x.Product == l.GetProduct() && x.Batch == l.GetBatch() })
			if i < 0 {
				r.Lines = append(r.Lines, ReceiptLine{Product: l.GetProduct(), Batch: l.GetBatch(), Bin: r.Bin})
				i = len(r.Lines) - 1
			}
			r.Lines[i].Qty += l.GetQty()
		}
	}
	if err := checkLineCount(len(r.Lines)); err != nil {
		return replication.Draft{}, err
	}
	var lines lineSet
	batches := batchSet{}
	for _, l := range r.Lines {
		l.Bin = cmpOr(l.Bin, r.Bin)
		if err := receiveLine(views, to, l, now, &lines, batches); err != nil {
			return replication.Draft{}, err
		}
	}
	if len(lines.lines) > MaxLines {
		return replication.Draft{}, fault.Invalidf("lines", "too_many", "at most %d lines once bundles are expanded", MaxLines)
	}
	// Batches keep the dates they were first received with.
	for k, b := range batches {
		known, ok, err := batchProto(views, b.Product, b.Batch)
		if err != nil {
			return replication.Draft{}, err
		}
		if ok {
			batches[k] = known
		}
	}
	return replication.Draft{Kind: KindTransferReceived, Entity: TransferEntity(id), Body: &whv1.TransferReceived{
		From: r.From, To: r.To, Lines: lines.lines, Batches: batches.list(), Note: r.Note, AtMs: ms(now)}}, nil
}

func shippedOf(views replication.Tx, id string) (*whv1.TransferShipped, error) {
	var s whv1.TransferShipped
	if _, ok, err := readFirst(views, trShippedKey(id), &s); err != nil || !ok {
		return nil, err
	}
	return &s, nil
}

func receivedOf(views replication.Tx, id string) (*whv1.TransferReceived, error) {
	var r whv1.TransferReceived
	if _, ok, err := readFirst(views, trReceivedKey(id), &r); err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

func transferID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "transfer/")
	return id, ok && replication.ValidULID(id)
}

func checkTransferEnds(ev *replication.Event, from, to string, lines []*whv1.Line, bs []*whv1.Batch, note string, at int64) error {
	if _, ok := transferID(ev); !ok {
		return fmt.Errorf("entity %q is not a transfer", ev.Entity)
	}
	if err := checkCode("from", from, "warehouse"); err != nil {
		return err
	}
	if err := checkCode("to", to, "warehouse"); err != nil {
		return err
	}
	if from == to {
		return fault.Invalidf("to", "same_warehouse", "a transfer goes to another warehouse")
	}
	if err := checkLines("lines", lines, 1, true); err != nil {
		return err
	}
	if err := checkBatches(bs); err != nil {
		return err
	}
	if at <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return checkNote("note", note)
}

func checkTransferShipped(ev *replication.Event, b *whv1.TransferShipped) error {
	return checkTransferEnds(ev, b.GetFrom(), b.GetTo(), b.GetLines(), b.GetBatches(), b.GetNote(), b.GetAtMs())
}

func checkTransferReceived(ev *replication.Event, b *whv1.TransferReceived) error {
	return checkTransferEnds(ev, b.GetFrom(), b.GetTo(), b.GetLines(), b.GetBatches(), b.GetNote(), b.GetAtMs())
}

// transferIndexes lists the transfer under both warehouses.
func transferIndexes(tx replication.Tx, id, from, to string) error {
	for _, wh := range []string{from, to} {
		if ValidCode(wh) {
			if err := tx.Set(trIndexKey(wh, id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func applyTransferShipped(tx replication.Tx, ev *replication.Event, b *whv1.TransferShipped) error {
	id, ok := transferID(ev)
	if !ok || !ValidCode(b.GetFrom()) || !ValidCode(b.GetTo()) {
		return nil
	}
	if _, _, _, err := recordFirst(tx, trShippedKey(id), b, ev); err != nil {
		return err
	}
	if err := applyBatches(tx, ev, b.GetBatches()); err != nil {
		return err
	}
	if err := transferIndexes(tx, id, b.GetFrom(), b.GetTo()); err != nil {
		return err
	}
	if received, err := exists(tx, trReceivedKey(id)); err != nil {
		return err
	} else if !received {
		if err := tx.Set(trOpenKey(b.GetTo(), id), nil); err != nil {
			return err
		}
	}
	out := make([]*whv1.Line, len(b.GetLines()))
	for i, l := range b.GetLines() {
		out[i] = &whv1.Line{Product: l.GetProduct(), Bin: l.GetBin(), Batch: l.GetBatch(), Qty: -l.GetQty(), Bundle: l.GetBundle()}
	}
	_, err := commitRecord(tx, ev, id+sufOut, &whv1.MoveRecord{Move: &whv1.StockMoved{
		Warehouse: b.GetFrom(), Direction: DirTransferOut, Type: TransferType, Lines: out, Ref: b.GetTo(), Note: b.GetNote(), AtMs: b.GetAtMs()}})
	return err
}

func applyTransferReceived(tx replication.Tx, ev *replication.Event, b *whv1.TransferReceived) error {
	id, ok := transferID(ev)
	if !ok || !ValidCode(b.GetFrom()) || !ValidCode(b.GetTo()) {
		return nil
	}
	if _, _, _, err := recordFirst(tx, trReceivedKey(id), b, ev); err != nil {
		return err
	}
	if err := applyBatches(tx, ev, b.GetBatches()); err != nil {
		return err
	}
	if err := transferIndexes(tx, id, b.GetFrom(), b.GetTo()); err != nil {
		return err
	}
	// The shipment names where the transfer goes; the open index follows it.
	if s, err := shippedOf(tx, id); err != nil {
		return err
	} else if s != nil && ValidCode(s.GetTo()) {
		if err := tx.Delete(trOpenKey(s.GetTo(), id)); err != nil {
			return err
		}
	}
	_, err := commitRecord(tx, ev, id+sufIn, &whv1.MoveRecord{Move: &whv1.StockMoved{
		Warehouse: b.GetTo(), Direction: DirTransferIn, Type: TransferType, Lines: b.GetLines(), Ref: b.GetFrom(), Note: b.GetNote(), AtMs: b.GetAtMs()}})
	return err
}

// inTransitTo sums product in the transfers on their way to wh.
func inTransitTo(views replication.Tx, wh, product string) (int64, error) {
	op := prefix("tro", wh)
	var ids []string
	err := views.Scan(op, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(op):]))
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, id := range ids {
		err := views.Scan(prefix("tit", id, product), nil, func(_, v []byte) (bool, error) {
			q, err := counterValue(v)
			n += q
			return err == nil, err
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// GetTransfer reads transfer id, summed by product and batch.
func GetTransfer(views replication.Tx, id string) (*Transfer, error) {
	if !replication.ValidULID(id) {
		return nil, fmt.Errorf("transfer %q: %w", id, fault.ErrNotFound)
	}
	s, err := shippedOf(views, id)
	if err != nil {
		return nil, err
	}
	r, err := receivedOf(views, id)
	if err != nil {
		return nil, err
	}
	if s == nil && r == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, fault.ErrNotFound)
	}
	t := &Transfer{ID: id}
	sums := map[string]*TransferLine{}
	line := func(p, batch string) *TransferLine {
		k := p + "\x00" + batch
		if l, ok := sums[k]; ok {
			return l
		}
		sums[k] = &TransferLine{Product: p, Batch: batch}
		return sums[k]
	}
	switch {
	case s != nil && r != nil:
		t.Status = TransferReceived
	case s != nil:
		t.Status = TransferInTransit
	default:
		t.Status = TransferReceivedEarly
	}
	if s != nil {
		t.From, t.To, t.Note, t.ShippedAt, t.Shipped = s.GetFrom(), s.GetTo(), s.GetNote(), fromMs(s.GetAtMs()), linesFrom(s.GetLines())
		for _, l := range s.GetLines() {
			line(l.GetProduct(), l.GetBatch()).Shipped += l.GetQty()
		}
	}
	if r != nil {
		if s == nil {
			t.From, t.To = r.GetFrom(), r.GetTo()
		}
		t.Note = strings.TrimSpace(t.Note + "\n" + r.GetNote())
		t.ReceivedAt, t.Received = fromMs(r.GetAtMs()), linesFrom(r.GetLines())
		to, err := GetWarehouse(views, r.GetTo())
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		for _, l := range r.GetLines() {
			tl := line(l.GetProduct(), l.GetBatch())
			tl.Received += l.GetQty()
			if to != nil {
				if b, ok := to.Bin(l.GetBin()); !ok || b.Kind != BinGood {
					tl.Damaged += l.GetQty()
				}
			}
		}
	}
	for _, l := range sums {
		l.Difference = l.Shipped - l.Received
		if s != nil && r != nil && (l.Difference != 0 || l.Damaged > 0) {
			t.Discrepancy = true
		}
		t.Lines = append(t.Lines, *l)
	}
	slices.SortFunc(t.Lines, func(a, b TransferLine) int {
		return cmpStrings(a.Product, b.Product, a.Batch, b.Batch)
	})
	return t, nil
}

// ListTransfers returns up to limit transfers from or to warehouse wh,
// newest first, after the page token.
func ListTransfers(views replication.Tx, wh, token string, limit int) ([]*Transfer, string, error) {
	return listNewest(views, "tri", wh, token, limit, GetTransfer)
}
