// Package views lists every kind of event Branchline's replicas apply to
// their views. Node and hub build their registry here, so that both apply
// exactly the same kinds the same way.
package views

import (
	"branchline/access"
	"branchline/crm"
	"branchline/replication"
	"branchline/telephony"
)

// Registry returns a registry of every kind.
func Registry() *replication.Registry {
	r := replication.NewRegistry()
	crm.RegisterCustomers(r)
	crm.RegisterParams(r)
	crm.RegisterBlacklist(r)
	crm.RegisterMembers(r)
	access.Register(r)
	telephony.Register(r)
	return r
}
