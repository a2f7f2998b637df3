package web

// adminRoutes registers the administration pages: users, roles,
// departments, custom fields, parameters and the audit log.
func (s *Server) adminRoutes() {}
