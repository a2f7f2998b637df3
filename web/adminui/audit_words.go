package adminui

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/web"
)

// auditWords words the entries of an audit page in the reader's language:
// "张三 修改了客户 C0012 上海申通" and each value changed, "手机由「138****1234」
// 改为「139****5678」". It names what the entries refer to by id — users,
// roles, departments, tokens, customers, branches — as far as the reader
// may see them; what they may not see shows as its id.
type auditWords struct {
	p         *web.Page
	names     map[string]string // "users/{id}" → username, roles, departments, tokens
	customers map[string]string // customer id → "C0012 上海申通"
	fields    []crm.CustomField
}

// auditWords reads the names the entries es refer to.
func (s *Pages) auditWords(r *http.Request, p *web.Page, es []access.AuditEntry) *auditWords {
	ctx, c := r.Context(), web.CallerOf(r)
	w := &auditWords{p: p, names: s.targetNames(ctx, c, p), customers: map[string]string{}}
	if s.cfg.Customers == nil {
		return w
	}
	w.fields, _ = s.cfg.Customers.Fields(ctx, c, true) // none: custom fields show by key
	for _, e := range es {
		id, ok := strings.CutPrefix(e.Target, customerRes)
		if _, done := w.customers[id]; !ok || done {
			continue
		}
		w.customers[id] = ""
		if cu, err := s.cfg.Customers.Get(ctx, c, id); err == nil {
			w.customers[id] = strings.TrimSpace(cu.Get("code") + " " + cu.Get("display_name"))
		}
	}
	return w
}

// customerRes names customers in audit targets.
const customerRes = "customers/"

// detailSaid are the actions whose sentence says all their detail says
// (the channel of a login, the customer's name of a deletion): their
// detail is not shown besides.
var detailSaid = map[string]bool{
	access.ActionLogin: true, access.ActionLogout: true, access.ActionLoginFailed: true,
	access.ActionPasswordChanged: true, access.ActionUserEnabled: true, access.ActionUserDisabled: true,
	access.ActionTokenCreated: true, access.ActionTokenRevoked: true,
	"customer.delete": true, "customer.undelete": true,
	crmapp.ActionContactAdd: true, crmapp.ActionContactUpdate: true, crmapp.ActionContactRemove: true,
}

// view words entry e.
func (w *auditWords) view(e access.AuditEntry) auditView {
	p := w.p
	v := auditView{Time: app.When(e.At), Action: actionLabel(p, e.Action), Node: e.Node, Remote: e.Remote}
	actor := w.actor(e.Actor, e.ActorName)
	if e.Action == access.ActionLoginFailed {
		// Whoever tried is unknown: the entry says which username they typed.
		actor = w.actor(e.Actor, "")
	}
	key := "admin.audit.said." + e.Action
	switch e.Action {
	case access.ActionPasswordChanged:
		if u := w.names[e.Target]; u != "" && u == e.Actor {
			key += "_own"
		}
	case access.ActionDepartmentChanged:
		if created(e, access.FieldDisplayName) {
			key = "admin.audit.said.department_created"
		}
	case access.ActionPermissionChanged:
		if e.Target == roleRes { // the default roles, seeded
			key = "admin.audit.said.roles_seeded"
		} else if created(e, access.FieldRoleName) {
			key = "admin.audit.said.role_created"
		}
	}
	if !p.HasText(key) {
		key = "admin.audit.said.other"
	}
	v.Said = p.HTML(key, actor, w.target(e), w.channel(e.Detail), actionLabel(p, e.Action))
	for _, ch := range e.Changes {
		v.Changes = append(v.Changes, w.change(e.Target, ch))
	}
	if len(v.Changes) == 0 && !detailSaid[e.Action] {
		v.Detail = humanize(e.Detail, w.names)
	}
	return v
}

// actor words who did something: their display name, with their
// username in its title for a reader who administers users (who knows
// people by both); the username when the actor is no user with a name
// (the node's own administrator, a phone).
func (w *auditWords) actor(username, name string) template.HTML {
	if name == "" || name == username {
		return template.HTML(`<strong class="actor">` + template.HTMLEscapeString(username) + `</strong>`)
	}
	title := ""
	if w.p.Can(string(access.UserAdmin)) {
		title = ` title="` + template.HTMLEscapeString(username) + `"`
	}
	return template.HTML(`<strong class="actor"` + title + `>` + template.HTMLEscapeString(name) + `</strong>`)
}

// created says whether e records a record's creation: its name set from
// nothing.
func created(e access.AuditEntry, nameField string) bool {
	for _, ch := range e.Changes {
		if ch.Field == nameField && ch.Before == "" {
			return true
		}
	}
	return false
}

// channel words where a login came from ("web", "api").
func (w *auditWords) channel(detail string) string {
	if w.p.HasText("admin.audit.via." + detail) {
		return w.p.T("admin.audit.via." + detail)
	}
	return detail
}

// target words what e was done to, "客户 C0012 上海申通", linked to its page
// when it has one.
func (w *auditWords) target(e access.AuditEntry) template.HTML {
	kind, id, _ := strings.Cut(e.Target, "/")
	if e.Target == "customers" {
		kind = "customers"
	}
	name := w.names[e.Target]
	switch kind {
	case "customers":
		name = w.customers[id]
		if name == "" && (e.Action == "customer.delete" || e.Action == "customer.undelete") {
			name = e.Detail // the customer's name, as it was deleted
		}
	case "branches":
		name = w.p.Branch(id) // its id in the link's title
	case "user", "sip":
		name = id // a login's or a phone's user name
	}
	if name == "" {
		name = id
	}
	key, ok := targetKinds[kind]
	if id == "" && kind == "customers" {
		key = "admin.audit.t.customers" // an import's or an export's: the customers at large
	} else if !ok || id == "" {
		return template.HTML(template.HTMLEscapeString(e.Target))
	}
	label := template.HTML(template.HTMLEscapeString(name))
	if href := targetHref(e.Target); href != "" {
		label = template.HTML(`<a href="`+template.HTMLEscapeString(href)+`" title="`+template.HTMLEscapeString(id)+`">`) + label + "</a>"
	}
	return w.p.HTML(key, label)
}

// targetKinds are the catalog keys of the words for the kinds of targets.
var targetKinds = map[string]string{
	"users": "admin.audit.t.user", "user": "admin.audit.t.user", "roles": "admin.audit.t.role",
	"departments": "admin.audit.t.department", "tokens": "admin.audit.t.token", "customers": "admin.audit.t.customer",
	"branches": "admin.audit.t.branch", "sip": "admin.audit.t.sip",
}

// change words one value an edit of target changed.
func (w *auditWords) change(target string, ch access.AuditChange) string {
	p := w.p
	kind, _, _ := strings.Cut(target, "/")
	switch {
	case ch.Field == access.AuditRoleField && ch.After != "":
		return p.T("admin.audit.role_given", w.ref(roleRes, ch.After))
	case ch.Field == access.AuditRoleField:
		return p.T("admin.audit.role_taken", w.ref(roleRes, ch.Before))
	case ch.Field == crmapp.AuditMergedField:
		return p.T("admin.audit.merged_in", ch.After)
	}
	label := w.label(kind, ch.Field)
	if auditFlags[ch.Field] {
		return p.T("admin.audit.change", label, w.yesNo(ch.Before), w.yesNo(ch.After))
	}
	before, after := w.value(kind, ch, ch.Before), w.value(kind, ch, ch.After)
	switch {
	case ch.Before == "":
		return p.T("admin.audit.change_set", label, after)
	case ch.After == "":
		return p.T("admin.audit.change_cleared", label, before)
	}
	return p.T("admin.audit.change", label, before, after)
}

// auditFlags are the fields whose values are "1" or "".
var auditFlags = map[string]bool{access.FieldMustChange: true, access.FieldDisabled: true, access.AuditRetiredField: true}

func (w *auditWords) yesNo(v string) string {
	if v != "" {
		return w.p.T("admin.audit.yes")
	}
	return w.p.T("admin.audit.no")
}

// auditLabels are the catalog keys of the fields of users, roles,
// departments and branches.
var auditLabels = map[string]map[string]string{
	"users": {
		access.FieldUsername: "admin.users.username", access.FieldDisplayName: "admin.users.display_name",
		access.FieldDepartment: "admin.users.department", access.FieldPhone: "admin.users.phone",
		access.FieldExtension: "admin.users.extension", access.FieldMustChange: "admin.users.must_change",
		access.FieldDisabled: "admin.audit.field.disabled",
	},
	"roles": {
		access.FieldRoleName: "admin.roles.name", access.FieldDescription: "admin.roles.description",
		access.FieldTimeZone: "admin.roles.time_zone", access.FieldWindows: "admin.roles.windows",
	},
	"departments": {
		access.FieldDisplayName: "admin.departments.name", access.AuditParentField: "admin.departments.parent",
		access.AuditRetiredField: "admin.audit.field.retired",
	},
	"branches": {access.FieldDisplayName: "admin.branches.name"},
	crmapp.AuditBlacklistTarget: {
		crmapp.AuditNumberField: "blacklist.number", crmapp.AuditReasonField: "blacklist.reason",
		crmapp.AuditPolicyField: "blacklist.policy", crmapp.AuditThresholdField: "admin.audit.field.threshold",
	},
}

// customerAuditLabels are the catalog keys of the fields of a customer's
// entries that are not the customer's own: notes and memberships.
var customerAuditLabels = map[string]string{
	crmapp.AuditNoteField: "admin.audit.field.note", crmapp.AuditPointsField: "admin.audit.field.points",
	crmapp.AuditBalanceField: "admin.audit.field.balance", crmapp.AuditMoveNoteField: "admin.audit.field.move_note",
}

// label names field of a record of kind as its form does.
func (w *auditWords) label(kind, field string) string {
	p := w.p
	if k := auditLabels[kind][field]; k != "" {
		return p.T(k)
	}
	if perm, ok := strings.CutPrefix(field, access.AuditPermissionPrefix); ok && kind == "roles" {
		return p.T("admin.audit.permission", p.T("admin.perm."+perm))
	}
	if kind != "customers" {
		return field
	}
	if k := customerAuditLabels[field]; k != "" {
		return p.T(k)
	}
	if strings.HasPrefix(field, crmapp.AuditContactPrefix) && p.HasText(field) {
		return p.T(field) // the contact form's label
	}
	if key, ok := strings.CutPrefix(field, crm.CustomPrefix); ok {
		for _, d := range w.fields {
			if d.Key == key {
				return d.Label
			}
		}
		return key
	}
	if p.HasText("field." + field) {
		return p.T("field." + field)
	}
	return field
}

// value shows one value of ch as pages show it: phone numbers as people
// write them (or masked, as the log gave them), departments by their
// names, scopes in words.
func (w *auditWords) value(kind string, ch access.AuditChange, v string) string {
	switch {
	case v == "":
		return v
	case ch.Phone:
		if strings.Contains(v, "*") {
			return v
		}
		return web.DisplayPhone(v)
	case kind == "users" && ch.Field == access.FieldDepartment, kind == "departments" && ch.Field == access.AuditParentField:
		return w.ref(deptRes, v)
	case kind == "roles" && strings.HasPrefix(ch.Field, access.AuditPermissionPrefix):
		return w.p.T("admin.scope." + v)
	case kind == "customers" && ch.Field == crmapp.AuditBalanceField:
		if fen, err := strconv.ParseInt(v, 10, 64); err == nil {
			return crm.Yuan(fen)
		}
	case kind == crmapp.AuditBlacklistTarget && ch.Field == crmapp.AuditPolicyField && w.p.HasText("blacklist.policy."+v):
		return w.p.T("blacklist.policy." + v)
	}
	return v
}

// ref names the record prefix+id, or shows its id.
func (w *auditWords) ref(prefix, id string) string {
	if n := w.names[prefix+id]; n != "" {
		return n
	}
	return id
}
