// Package web is the kernel of the server-rendered web UI of nodes and
// the hub: html/template pages with embedded assets (no CDN: it works with
// no internet), cookie sessions with CSRF protection (kept in a node's
// store; at a hub signed with the cluster's key and revoked through Raft,
// so valid at every member), the layout, a message catalog in zh-CN and
// English with plural forms (Page.N), Server-Sent Events for the live
// parts (screen pop, dispatch) and the one mapping of failures to page
// messages (Server.Failed).
//
// The pages themselves live in page packages, one per area, each a
// web.Pages that a Config lists and New mounts: crmui (customers, import,
// recycle bin, blacklist), adminui (users, departments, roles, tokens,
// fields, parameters, audit), deskui (agent desk, supervisor board),
// pickupui (pickups, dispatch, courier, tracking, rates, accounts),
// stockui (warehouse) and hubui (head office pages of a hub member). A page
// package registers its templates (Server.Templates) and routes
// (Server.Page, Action, Upload, each with the permissions that open it)
// and embeds *Server for rendering.
//
// Printouts — pickup slips, shipping labels, product barcode labels,
// printed lists — are pages of templates named print_*.html, laid out on
// paper by the print layout (templates/print.html, static/print.css; see
// Printout), with barcodes drawn by package label as inline SVG, so that
// printing needs no network and no plug-in. Any other page printed with
// the browser's Print drops its menu, filters and buttons (app.css).
//
// Handlers are thin: they read the form, call the use cases of the
// domain's application layer (crm/crmapp, crm/pickup/pickupapp,
// access/accessapp, telephony/telephonyapp, warehouse/warehouseapp) as the
// signed-in user (CallerOf), and render the result — the same use cases
// the Connect API serves, so a page and an API call check and do exactly
// the same. The UI does not go through Connect: it imports no Connect
// package.
package web
