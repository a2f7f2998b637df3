// Package app is the kernel of Branchline's application layer: what the
// use cases of every domain share.
//
// A use case is one thing a user does or reads (create a customer, post a
// stocktake, list the pickups of a day) written once, as a plain Go
// method over a typed request and result struct. It checks that the
// caller holds the permission and reaches the data scope, validates the
// request, assembles the domain's commands into one Store.Exec (the audit
// entry of the change among them, so that both commit together) and reads
// what it answers from the views. Each domain keeps its use cases in a
// package next to it — crm/crmapp, crm/pickup/pickupapp,
// access/accessapp, warehouse/warehouseapp, telephony/telephonyapp —
// built on this one.
//
// The adapters are thin translations on top: the api package's Connect
// handlers turn protobuf messages into requests and results into
// messages, the web pages do the same with forms and templates, and each
// maps failures (package fault) to its own codes or messages in one
// place. Neither calls the other, and neither checks permissions of its
// own: a page and an API call do exactly the same because they call the
// same method.
//
// The permission check comes first in every use case, before the request
// is looked at, so that a caller without the permission learns nothing,
// not even whether the request was well-formed. Requests therefore carry
// what both adapters can produce without failing (text, numbers, times);
// parsing and validation happen in the use case, after the check.
//
// This package and the use case packages know nothing of HTTP, Connect,
// SIP or a store implementation: they reach the store through Store, the
// caller through Caller.
package app
