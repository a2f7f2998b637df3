// Package crmapp holds the use cases of the customer side (package crm):
// customers, their contacts, notes and timeline, custom field
// definitions, import and export, the blacklist, and memberships. The
// API's Customer, Blacklist and Member services and the customer,
// blacklist and parameter pages are thin translations on top.
//
// Every use case checks first that the caller holds its permission, then
// the data scope of each customer it reads or writes (the customer's owner
// and department), then validates and runs the domain's commands in one
// Store.Exec, the audit entry of deletions, restores, merges and imports
// among them. Results show phone numbers as the caller may see them
// (masked without access.PhoneView over the customer).
//
// Like package app, it knows nothing of HTTP, Connect or storage.
package crmapp
