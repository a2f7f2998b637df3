package rpc

import (
	"context"

	"connectrpc.com/connect"

	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
)

// AdminService implements branchline.admin.v1.AdminService for a node or a
// hub member.
type AdminService struct {
	StatusFunc func(ctx context.Context) (*adminv1.StatusResponse, error)
	// ViewsDigest computes the digest of the views' content by scan, for
	// a Status that asks for it.
	ViewsDigest func() (string, error)
}

var _ adminv1connect.AdminServiceHandler = (*AdminService)(nil)

// Status implements AdminService.Status.
func (s *AdminService) Status(ctx context.Context, req *connect.Request[adminv1.StatusRequest]) (*connect.Response[adminv1.StatusResponse], error) {
	if err := RequireAdmin(ctx); err != nil {
		return nil, err
	}
	st, err := s.StatusFunc(ctx)
	if err == nil && req.Msg.GetScanViews() && s.ViewsDigest != nil {
		var d string
		if d, err = s.ViewsDigest(); err == nil {
			st.ViewsDigest = d
		}
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(st), nil
}
