// Package stockui is the warehouse pages of a node's web UI (进销存):
// the stock overview with its alerts, products, the scanner-friendly move
// entry, the move history, stocktakes, transfers, reservations with the
// escrow, purchase orders, warehouses and bins. Each handler is a thin
// translation onto the use cases of warehouse/warehouseapp as the
// signed-in user, which check the permission again and decide
// everything; the pages check the permission first, so that a user
// without it gets a 403 page rather than a form whose every action
// fails. Physical moves are recorded only at the node that owns a
// warehouse, so the move forms offer this node's warehouses (the
// server's Site is its id); and a node holds only its own warehouses'
// records, so stock, alerts, moves and stocktakes are shown for the
// warehouses the replica holds (Holding): a node's own, every one at
// head office.
package stockui

import (
	"embed"

	"branchline/access"
	"branchline/warehouse/warehouseapp"
	"branchline/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Pages are the warehouse pages.
type Pages struct {
	*web.Server
	stock   *warehouseapp.Stock
	holding Holding
}

// New returns a node's warehouse pages over stock, to mount on a
// web.Server: they show the stock of the warehouses the node owns
// (HoldsOwned).
func New(stock *warehouseapp.Stock) *Pages { return NewHolding(stock, HoldsOwned) }

// NewHolding returns the warehouse pages over stock of a replica that
// holds what holding says: HoldsAll at the hub, which holds every
// warehouse's records; HoldsOwned at a node.
func NewHolding(stock *warehouseapp.Stock, holding Holding) *Pages {
	return &Pages{stock: stock, holding: holding}
}

// Mount implements web.Pages.
func (s *Pages) Mount(k *web.Server) error {
	s.Server = k
	if err := k.Templates(templateFS); err != nil {
		return err
	}
	k.Enable("stock")
	s.routes()
	return nil
}

// routes registers the warehouse pages.
func (s *Pages) routes() {
	read := access.StockRead
	move := access.StockMove
	admin := access.StockAdmin
	reserve := access.StockReserve

	s.Home(web.HomeStock, "/stock", read)
	s.Page("/stock", s.stockOverview, read)

	s.Page("/stock/products", s.productList, read)
	s.Page("/stock/products/new", s.productNew, admin)
	s.Action("/stock/products", s.productCreate, admin)
	s.Page("/stock/products/{id}", s.productPage, read)
	s.Page("/stock/products/{id}/edit", s.productEdit, admin)
	s.Page("/stock/products/{id}/labels", s.productLabels, read)
	s.Action("/stock/products/{id}", s.productUpdate, admin)
	s.Action("/stock/products/{id}/limits", s.productLimit, admin)

	s.Page("/stock/moves/new", s.moveNew, move)
	s.Action("/stock/moves", s.moveCreate, move)
	s.Page("/stock/moves", s.moveList, read)

	s.Page("/stock/stocktakes", s.stocktakeList, read)
	s.Action("/stock/stocktakes", s.stocktakeOpen, move)
	s.Page("/stock/stocktakes/{id}", s.stocktakePage, read)
	s.Action("/stock/stocktakes/{id}", s.stocktakeCount, move)
	s.Action("/stock/stocktakes/{id}/cancel", s.stocktakeCancel, move)

	s.Page("/stock/transfers", s.transferList, read)
	s.Action("/stock/transfers", s.transferShip, move)
	s.Page("/stock/transfers/{id}", s.transferPage, read)
	s.Action("/stock/transfers/{id}/receive", s.transferReceive, move)

	s.Page("/stock/reservations", s.reservationList, read)
	s.Action("/stock/reservations", s.reservationMake, reserve)
	s.Action("/stock/reservations/{id}/release", s.reservationRelease, reserve)
	s.Action("/stock/reservations/{id}/ship", s.reservationShip, reserve)
	s.Action("/stock/notices", s.noticeCreate, reserve)
	s.Action("/stock/notices/{id}/confirm", s.noticeConfirm, reserve)

	s.Page("/stock/purchases", s.purchaseList, read)
	s.Action("/stock/purchases", s.purchaseCreate, admin)
	s.Page("/stock/purchases/{id}", s.purchasePage, read)
	s.Action("/stock/purchases/{id}/close", s.purchaseClose, admin)

	s.Page("/stock/warehouses", s.warehouseList, read)
	s.Action("/stock/warehouses", s.warehouseCreate, admin)
	s.Page("/stock/warehouses/{id}", s.warehousePage, read)
	s.Action("/stock/warehouses/{id}", s.warehouseUpdate, admin)
	s.Action("/stock/warehouses/{id}/bins", s.binSet, admin)
	s.Action("/stock/warehouses/{id}/sellers", s.sellerAdd, admin)
	s.Action("/stock/warehouses/{id}/sellers/remove", s.sellerRemove, admin)
}
