// Package hubui is the head office's pages on a hub member's web UI: the
// branches' replication health, the cluster's members, the pickups
// dashboard across all branches and every warehouse's stock. They read
// the hub's replicated views and cluster status (Cluster) directly:
// these are reports over every branch, not use cases of one node, and
// need a cluster administrator (stock: also a stock reader). The kernel
// (package web) provides sessions, the layout, the catalog and CSRF; the
// pickup zones and tariffs head office edits are pickupui's pages,
// mounted on the hub too.
package hubui

import (
	"embed"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Pages are the head office pages.
type Pages struct {
	*web.Server
	cluster Cluster
	admin   *accessapp.Admin
}

// New returns the head office pages over cluster, to mount on a hub
// member's web.Server (whose Home is "/branches"); admin, when set, is
// where head office names the branches (nil: the page only shows them).
func New(cluster Cluster, admin *accessapp.Admin) *Pages {
	return &Pages{cluster: cluster, admin: admin}
}

// Mount implements web.Pages.
func (s *Pages) Mount(k *web.Server) error {
	s.Server = k
	if err := k.Templates(templateFS); err != nil {
		return err
	}
	// Each page checks its permission itself, with the page's own title
	// on the refusal.
	s.Page("/branches", s.branches)
	s.Action("/branches", s.branchName, access.UserAdmin)
	s.Page("/cluster", s.clusterPage)
	s.Page("/pickups", s.hubPickups)
	s.Page("/pickups.csv", s.hubPickupsCSV)
	s.Page("/stock", s.hubStock)
	return nil
}
