// Package crmui is the customer side of a node's web UI: the customer
// list and search, the card, the forms, contacts, merging, import and
// export, the recycle bin and the blacklist pages. Each page is a thin
// translation between a form or a template and a use case of
// crm/crmapp, as the signed-in user (web.CallerOf): the use cases check
// permissions and data scope; the pages only hide what the user's grant
// cannot do.
package crmui

import (
	"embed"

	"branchline/access"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/telephony/telephonyapp"
	"branchline/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Config is what the customer pages call.
type Config struct {
	Customers *crmapp.Customers
	// Blacklist serves the blacklist pages and the card's warnings; nil:
	// none.
	Blacklist *crmapp.Blacklist
	// Members gives the card its membership; nil: none.
	Members *crmapp.Members
	// Calls gives the card the customer's calls and callbacks; nil:
	// none.
	Calls *telephonyapp.Telephony
}

// Pages are the customer pages.
type Pages struct {
	*web.Server
	cfg      Config
	previews *previewStore
}

// New returns the customer pages, to mount on a web.Server.
func New(cfg Config) *Pages {
	return &Pages{cfg: cfg, previews: newPreviewStore(previewTTL, previewBudget)}
}

// Mount implements web.Pages.
func (s *Pages) Mount(k *web.Server) error {
	s.Server = k
	if err := k.Templates(templateFS); err != nil {
		return err
	}
	s.customerRoutes()
	k.Home(web.HomeCustomers, "/customers", access.CustomerRead)
	if s.cfg.Blacklist != nil {
		s.blacklistRoutes()
	}
	return nil
}

// customerRoutes registers the customer pages.
func (s *Pages) customerRoutes() {
	s.Page("/customers", s.customerList)
	s.Page("/ui/suggest", s.customerSuggest)
	s.Page("/customers/export", s.customerExport)

	s.Page("/customers/new", s.customerNew)
	s.Action("/customers", s.customerCreate)
	s.Page("/customers/{id}", s.customerCard)
	s.Page("/customers/{id}/edit", s.customerEdit)
	s.Action("/customers/{id}", s.customerUpdate)
	s.Action("/customers/{id}/notes", s.customerAddNote)
	s.Action("/customers/{id}/delete", s.customerDelete)
	s.Action("/customers/{id}/restore", s.customerRestore)

	s.Page("/customers/{id}/contacts/new", s.contactNew)
	s.Action("/customers/{id}/contacts", s.contactCreate)
	s.Page("/customers/{id}/contacts/{cid}/edit", s.contactEdit)
	s.Action("/customers/{id}/contacts/{cid}", s.contactUpdate)
	s.Action("/customers/{id}/contacts/{cid}/remove", s.contactRemove)

	s.Page("/customers/merge", s.mergePage)
	s.Action("/customers/merge", s.mergeSubmit)

	s.Page("/customers/deleted", s.recycleBin)

	s.Page("/customers/import", s.importForm)
	// The upload's size is bounded before the CSRF check reads the body.
	s.Upload("/customers/import", web.MaxUpload, s.importPreview)
	s.Action("/customers/import/commit", s.importCommit)
}

// blacklistRoutes registers the blacklist pages.
func (s *Pages) blacklistRoutes() {
	s.Page("/blacklist", s.blacklistPage, access.BlacklistFlag, access.BlacklistManage, access.CustomerRead)
	s.Page("/blacklist/status", s.blacklistStatus, access.CustomerRead)
	s.Page("/blacklist/{key}", s.blacklistEntry, access.CustomerRead)
	s.Action("/blacklist/flag", s.blacklistFlag, access.BlacklistFlag)
	s.Action("/blacklist/list", s.blacklistAdd, access.BlacklistManage)
	s.Action("/blacklist/unlist", s.blacklistRemove, access.BlacklistManage)
}

// errNotFound is shown for a page about something that does not exist.
var errNotFound = fault.ErrNotFound
