package wiring

import (
	"net/http"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/api"
	"branchline/app"
	"branchline/crm/pickup/pickupapp"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/hub"
	"branchline/kinds"
	"branchline/replication"
	"branchline/web"
	"branchline/web/hubui"
	"branchline/web/pickupui"
)

// StartHub starts a hub member with this release's kinds, tasks and
// reactions (where cfg leaves them nil), sign-in and head office's pages.
func StartHub(cfg hub.Config) (*hub.Hub, error) {
	if cfg.Registry == nil {
		cfg.Registry = kinds.Registry()
	}
	if cfg.Tasks == nil {
		cfg.Tasks = kinds.HubTasks()
	}
	if cfg.Reactions == nil {
		cfg.Reactions = kinds.HubReactions()
	}
	if cfg.Decides == nil {
		cfg.Decides = kinds.HubDecides
	}
	if cfg.NodeScopes == nil {
		cfg.NodeScopes = kinds.NodeScopes
	}
	if cfg.Mount == nil {
		cfg.Mount = mountHub
	}
	// Head office's commands — zones, tariffs, branch names — commit
	// through Raft: the leader serves their pages.
	cfg.LeaderPages = append(cfg.LeaderPages, "/pickups/zones", "/pickups/rates", "/branches")
	return hub.Start(cfg)
}

// mountHub serves sign-in and head office's pages on a hub member.
func mountHub(h *hub.Hub, mux *http.ServeMux, opts []connect.HandlerOption) error {
	// The cluster admin's password opens everything: guessing it over the
	// API or the web pages is slowed down as a node slows its users'.
	throttle := access.NewThrottle(access.ThrottleConfig{})
	mux.Handle(authv1connect.NewAuthServiceHandler(&api.AuthService{Dir: h, Signer: h.Signer, Throttle: throttle, Log: h.Log()}, opts...))
	cluster, commands := h.Cluster(), h.Commands()
	ui, err := web.New(web.Config{
		Site: h.ID(), Hub: true, Home: "/branches", Login: h.Login, Throttle: throttle,
		Sessions: web.SignedSessions{Key: h.SessionKey, Revocations: h.Revocations()},
		Grants:   app.AdminGrants, Log: h.Log(),
		Pages: []web.Pages{
			// Head office names the branches on the branch health page.
			hubui.New(cluster, &accessapp.Admin{Store: commands, IDs: replication.NewIDs(), Node: replication.HubOrigin}),
			// Head office manages the company-wide zones and tariffs here.
			pickupui.New(pickupui.Config{HeadOffice: true,
				Pickups: &pickupapp.Pickups{Store: commands, IDs: replication.NewIDs(), Node: replication.HubOrigin}}),
		},
		Branches: func() (names map[string]string, err error) {
			err = cluster.View(func(views replication.Tx) error {
				names, err = access.BranchNames(views)
				return err
			})
			return names, err
		},
		Alerts: func() []web.Alert {
			if d := h.Disk(); d.Low() {
				return []web.Alert{{Key: "alert.disk_full", Args: []any{d.Free() >> 20}}}
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	mux.Handle("/", ui)
	return nil
}
