// Package api implements Branchline's Connect services (binary protobuf
// and JSON over HTTP) for nodes and hub members: authentication, status and
// the domain services. Handlers are thin translations: they resolve the
// caller (app.CallerOf), convert the request message into the use case's
// typed request, call the use case of the domain's application layer
// (crm/crmapp, crm/pickup/pickupapp, access/accessapp,
// telephony/telephonyapp, warehouse/warehouseapp) and convert its result
// back; every error goes through one mapping to Connect codes (Error).
// The permission and data-scope checks are the use cases', shared with
// the web pages.
package api
