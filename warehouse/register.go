package warehouse

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"branchline/replication"
)

// Register adds the appliers of every warehouse event kind to r, with
// their scope rules (scope.go).
func Register(r *replication.Registry) {
	r.AddFeed(OfferFeed)
	handle(r, KindProductSet, "product", productID, applyProductSet, checkProductSet)
	handle(r, KindWarehouseSet, "warehouse", warehouseID, applyWarehouseSet, checkWarehouseSet)
	handle(r, KindBinSet, "warehouse", warehouseID, applyBinSet, checkBinSet)
	handle(r, KindSellerAdded, "warehouse", warehouseID, applySellerAdded, checkSellerAdded)
	handle(r, KindSellerRemoved, "warehouse", warehouseID, applySellerRemoved, checkSellerRemoved)
	handle(r, KindLimitSet, "product", productID, applyLimitSet, checkLimitSet)
	handle(r, KindStockMoved, "move", moveID, applyStockMoved, checkStockMoved)
	handle(r, KindStocktakeOpened, "stocktake", stocktakeID, applyStocktakeOpened, checkStocktakeOpened)
	handle(r, KindStocktakeCounted, "stocktake", stocktakeID, applyStocktakeCounted, checkStocktakeCounted)
	handle(r, KindStocktakePosted, "stocktake", stocktakeID, applyStocktakePosted, checkStocktakePosted)
	handle(r, KindStocktakeCancelled, "stocktake", stocktakeID, applyStocktakeCancelled, checkStocktakeCancelled)
	replication.Handle(r, KindTransferShipped, applyTransferShipped, checkTransferShipped)
	replication.Handle(r, KindTransferReceived, applyTransferReceived, checkTransferReceived)
	handle(r, KindReservationMade, "reservation", reservationID, applyReservationMade, checkReservationMade)
	handle(r, KindReservationReleased, "reservation", reservationID, applyReservationReleased, checkReservationReleased)
	handle(r, KindReservationShipped, "reservation", reservationID, applyReservationShipped, checkReservationShipped)
	replication.Handle(r, KindEscrowReleased, applyEscrowReleased, checkEscrowReleased)
	replication.Handle(r, KindEscrowGranted, applyEscrowGranted, checkEscrowGranted)
	replication.Handle(r, KindEscrowReturned, applyEscrowReturned, checkEscrowReturned)
	replication.Handle(r, KindEscrowReclaimed, applyEscrowReclaimed, checkEscrowReclaimed)
	replication.Handle(r, KindEscrowTarget, applyEscrowTargets, checkEscrowTargets)
	handle(r, KindPOCreated, "purchase order", poID, applyPOCreated, checkPOCreated)
	handle(r, KindPOClosed, "purchase order", poID, applyPOClosed, checkPOClosed)
	handle(r, KindNoticeCreated, "notice", noticeID, applyNoticeCreated, checkNoticeCreated)
	handle(r, KindNoticeConfirmed, "notice", noticeID, applyNoticeConfirmed, checkNoticeConfirmed)
	registerScopes(r)
}

// handle registers kind as replication.Handle does, with check run only on
// events whose entity is one of what the kind is about (idOf), a check
// every kind needs.
func handle[M proto.Message](r *replication.Registry, kind, what string, idOf func(*replication.Event) (string, bool),
	apply func(replication.Tx, *replication.Event, M) error, check func(*replication.Event, M) error) {
	replication.Handle(r, kind, apply, func(ev *replication.Event, b M) error {
		if _, ok := idOf(ev); !ok {
			return fmt.Errorf("entity %q is not a %s", ev.Entity, what)
		}
		return check(ev, b)
	})
}
