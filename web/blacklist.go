package web

// blacklistRoutes registers the blacklist pages.
func (s *Server) blacklistRoutes() {}
