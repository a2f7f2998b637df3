package telephony_test

import (
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
	"branchline/telephony"
)

func removedBody() *telv1.ConfigRemoved { return &telv1.ConfigRemoved{} }

func memberAdded(user string, prio int) replication.Draft {
	return replication.Draft{Kind: telephony.KindMemberAdded, Entity: telephony.QueueEntity("sales"),
		Body: &telv1.MemberAdded{User: user, Priority: int32(prio)}}
}

func memberRemoved(user, origin string, seq uint64) replication.Draft {
	return replication.Draft{Kind: telephony.KindMemberRemoved, Entity: telephony.QueueEntity("sales"),
		Body: &telv1.MemberRemoved{User: user, Observed: []*telv1.Tag{{Origin: origin, Seq: seq}}}}
}

func wrapUp(call string, secs int) replication.Draft {
	return replication.Draft{Kind: telephony.KindWrapUpEnded, Entity: telephony.CallEntity(call), Body: &telv1.WrapUpEnded{Secs: int32(secs)}}
}

func assigned(agent string) *telv1.CallbackAssigned { return &telv1.CallbackAssigned{Agent: agent} }
func done(note string) *telv1.CallbackDone          { return &telv1.CallbackDone{Note: note} }
func queued(ext, text string) *telv1.MessageQueued {
	return &telv1.MessageQueued{Extension: ext, Text: text}
}
