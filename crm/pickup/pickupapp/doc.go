// Package pickupapp holds the use cases of pickups and dispatch (package
// pickup): booking, the workflow, tracking, zones and couriers, rate
// plans, accounts and the reports. The API's PickupService, the pickup,
// dispatch, courier and tracking pages and the head office's zone and
// tariff pages are thin translations on top.
//
// Permissions: booking, editing, cancelling and checking need
// access.PickupWrite; zones, couriers and reassignment
// access.PickupDispatch; accepting, picking up and failing
// access.PickupCourier (the domain then checks the pickup is the
// caller's); rate plans, tiers and payments access.FinanceManage, and
// accounts and statements FinanceManage or access.Supervise. Every other
// read needs one of PickupWrite, PickupDispatch, FinanceManage or
// Supervise; a caller with only PickupCourier reads their own pickups.
package pickupapp
