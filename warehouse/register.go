package warehouse

import "branchline/replication"

// Register adds the appliers of every warehouse event kind to r, with
// their scope rules (scope.go).
func Register(r *replication.Registry) {
	r.AddFeed(OfferFeed)
	replication.Handle(r, KindProductSet, applyProductSet, checkProductSet)
	replication.Handle(r, KindWarehouseSet, applyWarehouseSet, checkWarehouseSet)
	replication.Handle(r, KindBinSet, applyBinSet, checkBinSet)
	replication.Handle(r, KindSellerAdded, applySellerAdded, checkSellerAdded)
	replication.Handle(r, KindSellerRemoved, applySellerRemoved, checkSellerRemoved)
	replication.Handle(r, KindLimitSet, applyLimitSet, checkLimitSet)
	replication.Handle(r, KindStockMoved, applyStockMoved, checkStockMoved)
	replication.Handle(r, KindStocktakeOpened, applyStocktakeOpened, checkStocktakeOpened)
	replication.Handle(r, KindStocktakeCounted, applyStocktakeCounted, checkStocktakeCounted)
	replication.Handle(r, KindStocktakePosted, applyStocktakePosted, checkStocktakePosted)
	replication.Handle(r, KindStocktakeCancelled, applyStocktakeCancelled, checkStocktakeCancelled)
	replication.Handle(r, KindTransferShipped, applyTransferShipped, checkTransferShipped)
	replication.Handle(r, KindTransferReceived, applyTransferReceived, checkTransferReceived)
	replication.Handle(r, KindReservationMade, applyReservationMade, checkReservationMade)
	replication.Handle(r, KindReservationReleased, applyReservationReleased, checkReservationReleased)
	replication.Handle(r, KindReservationShipped, applyReservationShipped, checkReservationShipped)
	replication.Handle(r, KindEscrowReleased, applyEscrowReleased, checkEscrowReleased)
	replication.Handle(r, KindEscrowGranted, applyEscrowGranted, checkEscrowGranted)
	replication.Handle(r, KindEscrowReturned, applyEscrowReturned, checkEscrowReturned)
	replication.Handle(r, KindEscrowReclaimed, applyEscrowReclaimed, checkEscrowReclaimed)
	replication.Handle(r, KindEscrowTarget, applyEscrowTargets, checkEscrowTargets)
	replication.Handle(r, KindPOCreated, applyPOCreated, checkPOCreated)
	replication.Handle(r, KindPOClosed, applyPOClosed, checkPOClosed)
	replication.Handle(r, KindNoticeCreated, applyNoticeCreated, checkNoticeCreated)
	replication.Handle(r, KindNoticeConfirmed, applyNoticeConfirmed, checkNoticeConfirmed)
	registerScopes(r)
}
