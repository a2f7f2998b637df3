package telephony

import "branchline/replication"

// Register adds the appliers of every telephony event kind to r, with
// their scope rules (scope.go).
func Register(r *replication.Registry) {
	for _, k := range []*configKind{extensionKind, trunkKind, queueKind} {
		k.register(r)
	}
	replication.Handle(r, KindMemberAdded, applyMemberAdded, checkMemberAdded)
	replication.Handle(r, KindMemberRemoved, applyMemberRemoved, checkMemberRemoved)
	replication.Handle(r, KindCallEnded, applyCallEnded, checkCallEnded)
	replication.Handle(r, KindWrapUpEnded, applyWrapUp, checkWrapUp)
	replication.Handle(r, KindCallsRefused, applyCallsRefused, checkCallsRefused)
	replication.Handle(r, KindCallbackCreated, applyCallbackCreated, checkCallbackCreated)
	replication.Handle(r, KindCallbackAssigned, applyCallbackAssigned, checkCallbackAssigned)
	replication.Handle(r, KindCallbackDone, applyCallbackDone, checkCallbackDone)
	replication.Handle(r, KindMessageQueued, applyMessageQueued, checkMessageQueued)
	replication.Handle(r, KindMessageStatus, applyMessageStatus, checkMessageStatus)
	registerScopes(r)
}
