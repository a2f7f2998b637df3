package warehouse

import (
	"fmt"
	"slices"
	"strings"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// Event kinds of warehouses, their bins and sellers.
const (
	KindWarehouseSet  = "warehouse.warehouse.set"
	KindBinSet        = "warehouse.bin.set"
	KindSellerAdded   = "warehouse.seller.added"
	KindSellerRemoved = "warehouse.seller.removed"
)

// Bin kinds. Only good bins count as available stock and are picked for
// orders and transfers by default.
const (
	BinGood      = "good"
	BinDefective = "defective"
	BinOther     = "other"
)

// BinKinds lists the bin kinds.
var BinKinds = []string{BinGood, BinDefective, BinOther}

// DefaultExpiryWarnDays is how long before expiry a batch raises an alert
// when the warehouse does not say.
const DefaultExpiryWarnDays = 30

// Bin is a storage location of a warehouse.
type Bin struct {
	ID   string
	Name string
	Kind string
}

// Warehouse is a stock location. Its Owner is the node that records its
// physical moves; Sellers are the nodes that may promise its stock from
// escrow shares (escrow is on when there is at least one).
type Warehouse struct {
	ID             string
	Name           string
	Owner          string
	Address        string
	ExpiryWarnDays int64
	Bins           []Bin
	Sellers        []string
}

// Bin returns the bin with id, if the warehouse has it.
func (w *Warehouse) Bin(id string) (Bin, bool) {
	i := slices.IndexFunc(w.Bins, func(b Bin) bool { return b.ID == id })
	if i < 0 {
		return Bin{}, false
	}
	return w.Bins[i], true
}

// GoodBins returns the ids of the good bins, in id order.
func (w *Warehouse) GoodBins() []string {
	var out []string
	for _, b := range w.Bins {
		if b.Kind == BinGood {
			out = append(out, b.ID)
		}
	}
	return out
}

// IsSeller reports whether node sells from the warehouse.
func (w *Warehouse) IsSeller(node string) bool { return slices.Contains(w.Sellers, node) }

// WarehouseEntity is the entity of warehouse id.
func WarehouseEntity(id string) string { return "warehouse/" + id }

// WarehouseFields names the fields SetWarehouse can write.
var WarehouseFields = []string{"name", "owner", "address", "expiry_warn_days"}

var warehouseSpec = fieldSpec{
	"name":    textField("name", maxName, true),
	"owner":   nodeField,
	"address": textField("address", 200, false),
	// 0 (cleared) means DefaultExpiryWarnDays.
	"expiry_warn_days": intField("expiry_warn_days", 0, 3650),
}

var binSpec = fieldSpec{
	"name": textField("name", maxName, false),
	"kind": enumField("kind", BinKinds...),
}

func nodeField(v string) (string, error) {
	v = strings.TrimSpace(v)
	return v, checkBranch("owner", v)
}

// checkBranch validates the id of a node that owns or sells from a
// warehouse: any node but the hub, which records no stock.
func checkBranch(field, node string) error {
	if node == replication.HubOrigin {
		return fault.Invalidf(field, "hub", "the hub holds no stock; name a node")
	}
	return checkNode(field, node)
}

func warehouseKey(id, field string) []byte { return key("w", id, field) }
func binKey(wh, bin, field string) []byte  { return key("bin", wh, bin, field) }
func sellerSet(wh string) string           { return string(key("sel", wh)) }

func (w *Warehouse) fields() map[string]string {
	days := w.ExpiryWarnDays
	if days == DefaultExpiryWarnDays {
		days = 0
	}
	return map[string]string{"name": w.Name, "owner": w.Owner, "address": w.Address, "expiry_warn_days": itoa(days)}
}

// SetWarehouse decides the event writing the named fields of warehouse w
// (every field when fields is empty). A new warehouse needs a name and an
// owner node.
func SetWarehouse(views replication.Tx, w Warehouse, fields []string) (replication.Draft, error) {
	if err := checkCode("id", w.ID, "warehouse"); err != nil {
		return replication.Draft{}, err
	}
	sel, err := warehouseSpec.pick(w.fields(), fields, "warehouse")
	if err != nil {
		return replication.Draft{}, err
	}
	vals, err := warehouseSpec.canonical(sel, "warehouse")
	if err != nil {
		return replication.Draft{}, err
	}
	if _, err := GetWarehouse(views, w.ID); isNotFound(err) {
		if _, ok := sel["name"]; !ok {
			return replication.Draft{}, fault.Invalidf("name", "required", "a new warehouse needs a name")
		}
		if _, ok := sel["owner"]; !ok {
			return replication.Draft{}, fault.Invalidf("owner", "required", "a new warehouse needs an owner node")
		}
	} else if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindWarehouseSet, Entity: WarehouseEntity(w.ID), Body: &whv1.WarehouseSet{Fields: vals}}, nil
}

// SetBin decides the event creating or changing bin b of warehouse wh. A
// new bin is good stock unless it says otherwise.
func SetBin(views replication.Tx, wh string, b Bin) (replication.Draft, error) {
	w, err := needWarehouse(views, "warehouse", wh)
	if err != nil {
		return replication.Draft{}, err
	}
	if err := checkCode("bin", b.ID, "bin"); err != nil {
		return replication.Draft{}, err
	}
	if _, ok := w.Bin(b.ID); !ok && b.Kind == "" {
		b.Kind = BinGood
	}
	f := map[string]string{"name": b.Name}
	if b.Kind != "" {
		f["kind"] = b.Kind
	}
	vals, err := binSpec.canonical(f, "bin")
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindBinSet, Entity: WarehouseEntity(wh), Body: &whv1.BinSet{Bin: b.ID, Fields: vals}}, nil
}

// AddSeller decides the event letting node sell from warehouse wh.
func AddSeller(views replication.Tx, wh, node string) (replication.Draft, error) {
	if _, err := needWarehouse(views, "warehouse", wh); err != nil {
		return replication.Draft{}, err
	}
	if err := checkBranch("node", node); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindSellerAdded, Entity: WarehouseEntity(wh), Body: &whv1.SellerAdded{Node: node}}, nil
}

// RemoveSeller decides the event removing node from the sellers of wh:
// the adds seen here are removed; an add made concurrently survives.
func RemoveSeller(views replication.Tx, wh, node string) (replication.Draft, error) {
	if _, err := needWarehouse(views, "warehouse", wh); err != nil {
		return replication.Draft{}, err
	}
	if err := checkNode("node", node); err != nil {
		return replication.Draft{}, err
	}
	tags, err := replication.SetTags(views, sellerSet(wh), node)
	if err != nil {
		return replication.Draft{}, err
	}
	if len(tags) == 0 {
		return replication.Draft{}, fmt.Errorf("node %s does not sell from %s: %w", node, wh, fault.ErrNotFound)
	}
	b := &whv1.SellerRemoved{Node: node}
	for _, t := range tags {
		b.Observed = append(b.Observed, &whv1.Tag{Origin: t.Origin, Seq: t.Seq})
	}
	return replication.Draft{Kind: KindSellerRemoved, Entity: WarehouseEntity(wh), Body: b}, nil
}

func warehouseID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "warehouse/")
	return id, ok && ValidCode(id)
}

func checkWarehouseSet(ev *replication.Event, b *whv1.WarehouseSet) error {
	return warehouseSpec.check(b.GetFields(), "warehouse")
}

func applyWarehouseSet(tx replication.Tx, ev *replication.Event, b *whv1.WarehouseSet) error {
	id, ok := warehouseID(ev)
	if !ok {
		return nil
	}
	return warehouseSpec.apply(tx, b.GetFields(), func(f string) []byte { return warehouseKey(id, f) }, replication.StampOf(ev), nil)
}

func checkBinSet(ev *replication.Event, b *whv1.BinSet) error {
	if err := checkCode("bin", b.GetBin(), "bin"); err != nil {
		return err
	}
	return binSpec.check(b.GetFields(), "bin")
}

func applyBinSet(tx replication.Tx, ev *replication.Event, b *whv1.BinSet) error {
	id, ok := warehouseID(ev)
	if !ok || !ValidCode(b.GetBin()) {
		return nil
	}
	return binSpec.apply(tx, b.GetFields(), func(f string) []byte { return binKey(id, b.GetBin(), f) }, replication.StampOf(ev), nil)
}

func checkSellerAdded(ev *replication.Event, b *whv1.SellerAdded) error {
	return checkNode("node", b.GetNode())
}

func applySellerAdded(tx replication.Tx, ev *replication.Event, b *whv1.SellerAdded) error {
	id, ok := warehouseID(ev)
	if !ok || !replication.ValidNodeID(b.GetNode()) {
		return nil
	}
	return replication.SetAdd(tx, sellerSet(id), b.GetNode(), replication.TagOf(ev))
}

func checkSellerRemoved(ev *replication.Event, b *whv1.SellerRemoved) error {
	if len(b.GetObserved()) > 1000 {
		return fault.Invalidf("observed", "too_many", "at most 1000 tags")
	}
	for _, t := range b.GetObserved() {
		if !replication.ValidNodeID(t.GetOrigin()) || t.GetSeq() == 0 {
			return fault.Invalidf("observed", "bad_tag", "bad tag %s:%d", t.GetOrigin(), t.GetSeq())
		}
	}
	return checkNode("node", b.GetNode())
}

func applySellerRemoved(tx replication.Tx, ev *replication.Event, b *whv1.SellerRemoved) error {
	id, ok := warehouseID(ev)
	if !ok || !replication.ValidNodeID(b.GetNode()) {
		return nil
	}
	tags := make([]replication.Tag, 0, len(b.GetObserved()))
	for _, t := range b.GetObserved() {
		if replication.ValidNodeID(t.GetOrigin()) && t.GetSeq() > 0 {
			tags = append(tags, replication.Tag{Origin: t.GetOrigin(), Seq: t.GetSeq()})
		}
	}
	return replication.SetRemove(tx, sellerSet(id), b.GetNode(), tags)
}

// GetWarehouse reads warehouse id with its bins and sellers.
func GetWarehouse(views replication.Tx, id string) (*Warehouse, error) {
	if !ValidCode(id) {
		return nil, fmt.Errorf("warehouse %q: %w", id, fault.ErrNotFound)
	}
	f, err := readFields(views, prefix("w", id))
	if err != nil {
		return nil, err
	}
	if f["name"] == "" {
		return nil, fmt.Errorf("warehouse %s: %w", id, fault.ErrNotFound)
	}
	w := &Warehouse{ID: id, Name: f["name"], Owner: f["owner"], Address: f["address"], ExpiryWarnDays: atoi(f["expiry_warn_days"])}
	if w.ExpiryWarnDays == 0 {
		w.ExpiryWarnDays = DefaultExpiryWarnDays
	}
	bp := prefix("bin", id)
	err = views.Scan(bp, nil, func(k, v []byte) (bool, error) {
		ps := parts(k, bp)
		if len(ps) != 2 {
			return true, nil
		}
		r, err := replication.DecodeRegister(v)
		if err != nil {
			return false, err
		}
		if n := len(w.Bins); n == 0 || w.Bins[n-1].ID != ps[0] {
			w.Bins = append(w.Bins, Bin{ID: ps[0], Kind: BinGood})
		}
		b := &w.Bins[len(w.Bins)-1]
		switch ps[1] {
		case "name":
			b.Name = string(r.Value)
		case "kind":
			if len(r.Value) > 0 {
				b.Kind = string(r.Value)
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if w.Sellers, err = replication.SetElems(views, sellerSet(id)); err != nil {
		return nil, err
	}
	return w, nil
}

// ListWarehouses reads every warehouse, in id order.
func ListWarehouses(views replication.Tx) ([]*Warehouse, error) {
	ids, err := warehouseIDs(views)
	if err != nil {
		return nil, err
	}
	out := make([]*Warehouse, 0, len(ids))
	for _, id := range ids {
		w, err := GetWarehouse(views, id)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// warehouseIDs lists the ids of the warehouses ever set.
func warehouseIDs(views replication.Tx) ([]string, error) {
	p := prefix("w")
	var ids []string
	err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
		id, _, _ := strings.Cut(string(k[len(p):]), "\x00")
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
		return true, nil
	})
	return ids, err
}

// needWarehouse reads a warehouse named in input, refusing unknown ones as
// invalid input.
func needWarehouse(views replication.Tx, field, id string) (*Warehouse, error) {
	if err := checkCode(field, id, "warehouse"); err != nil {
		return nil, err
	}
	w, err := GetWarehouse(views, id)
	if isNotFound(err) {
		return nil, fault.Invalidf(field, "unknown_warehouse", "no warehouse %s", id)
	}
	return w, err
}

// ownWarehouse reads a warehouse whose physical moves node is about to
// record: only its owner may.
func ownWarehouse(views replication.Tx, field, id, node string) (*Warehouse, error) {
	w, err := needWarehouse(views, field, id)
	if err != nil {
		return nil, err
	}
	if w.Owner != node {
		return nil, fmt.Errorf("warehouse %s is recorded at node %s, not %s: %w", id, w.Owner, node, fault.ErrDenied)
	}
	return w, nil
}

// needBin checks that warehouse w has bin.
func needBin(w *Warehouse, field, bin string) (Bin, error) {
	if err := checkCode(field, bin, "bin"); err != nil {
		return Bin{}, err
	}
	b, ok := w.Bin(bin)
	if !ok {
		return Bin{}, fault.Invalidf(field, "unknown_bin", "warehouse %s has no bin %s", w.ID, bin)
	}
	return b, nil
}
