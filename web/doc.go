// Package web is the server-rendered web UI of nodes and the hub:
// html/template pages with embedded assets (no CDN: it works with no
// internet), cookie sessions with CSRF protection (kept in a node's store;
// at a hub signed with the cluster's key and revoked through Raft, so
// valid at every member), a message catalog in zh-CN and English, and
// Server-Sent Events for the live parts (screen pop, dispatch). Handlers are thin: they call the same Connect service
// implementations as the API, in process, so a page and an API call
// check and do exactly the same.
package web
