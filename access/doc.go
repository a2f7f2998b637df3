// Package access is who may do what: users, departments (a tree), roles
// with permissions, data scopes and time windows, personal API tokens, and
// the audit log. All of it is replicated, so that anyone can log in at any
// branch during a WAN outage. Like every domain package it turns commands
// into events and events into views through replication.Tx, and knows
// nothing of storage, HTTP or SIP.
package access
