package pickup

import "branchline/replication"

// Register adds the appliers of every pickup, zone, courier, rate plan
// and account event kind to r, and the scope rules of the pickup kinds.
func Register(r *replication.Registry) {
	replication.Handle(r, KindCreated, applyCreated, checkCreated)
	replication.Handle(r, KindFieldSet, applyFieldSet, checkFieldSet)
	replication.Handle(r, KindAssigned, applyAssigned, checkAssigned)
	replication.Handle(r, KindNotified, applyNotified, checkNotified)
	replication.Handle(r, KindAccepted, applyAccepted, checkAccepted)
	replication.Handle(r, KindPickedUp, applyPickedUp, checkPickedUp)
	replication.Handle(r, KindChecked, applyChecked, checkChecked)
	replication.Handle(r, KindCancelled, applyCancelled, checkCancelled)
	replication.Handle(r, KindFailed, applyFailed, checkFailed)
	replication.Handle(r, KindZoneSet, applyZoneSet, checkZoneSet)
	replication.Handle(r, KindZoneRemoved, applyZoneRemoved, checkZoneRemoved)
	replication.Handle(r, KindCourierSet, applyCourierSet, checkCourierSet)
	replication.Handle(r, KindCourierBranchesSet, applyCourierSet, checkCourierSet)
	replication.Handle(r, KindCourierZoneAdded, applyCourierZoneAdded, checkCourierZoneAdded)
	replication.Handle(r, KindCourierZoneRemoved, applyCourierZoneRemoved, checkCourierZoneRemoved)
	replication.Handle(r, KindRatePlanSet, applyRatePlanSet, checkRatePlanSet)
	replication.Handle(r, KindTiersSet, applyTiersSet, checkTiersSet)
	for _, k := range []string{KindDepositPaid, KindDepositRefunded, KindPaymentReceived, KindRefundPaid} {
		replication.Handle(r, k, applyEntry, checkEntry)
	}
	replication.Handle(r, KindPickupRecorded, applyPickupRecorded, checkPickupRecorded)
	registerScopes(r)
}
