// Package accessapp holds the use cases of package access: the
// administration of users, departments, roles and personal API tokens,
// the audit log, and a user changing their own password. The API's
// AccessService and AuthService.ChangePassword and the administration and
// password pages are thin translations on top.
//
// Every administrative use case needs access.UserAdmin (the audit log
// access.AuditRead), checked before the request is looked at, and records
// its change in the audit log in the same Store.Exec as the change.
package accessapp
