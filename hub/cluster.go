package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/auth"
	"branchline/fault"
	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	hubv1 "branchline/gen/branchline/hub/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/replication"
	"branchline/rpc"
	"branchline/version"
)

// AdminUser is the cluster administrator's user name.
const AdminUser = "admin"

// routes serves the hub's own services (replication, cluster
// administration) and operations endpoints, and what cfg.Mount adds; a
// follower passes leader-only calls on to the leader (forward).
func (h *Hub) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	opts := []connect.HandlerOption{
		connect.WithInterceptors(rpc.RequireAuth(verifier{h}, rpc.PublicProcedures...)),
		connect.WithReadMaxBytes(replication.MaxBatchBytes + (1 << 20)),
		rpc.ZstdHandler(),
	}
	mux.Handle(replicationv1connect.NewReplicationServiceHandler(replicationService{h}, opts...))
	mux.Handle(adminv1connect.NewClusterServiceHandler(clusterService{h}, opts...))
	mux.Handle(adminv1connect.NewAdminServiceHandler(&rpc.AdminService{StatusFunc: h.Status, ViewsDigest: func() (string, error) {
		return h.fsm.Digest().String(), nil
	}}, opts...))
	rpc.MountOps(mux, h.metrics, h.ready, h.cfg.MetricsToken)
	if h.cfg.Mount != nil {
		if err := h.cfg.Mount(h, mux, opts); err != nil {
			return nil, err
		}
	}
	return h.forward(mux), nil
}

// Cluster gives head office's pages this member's views and the cluster's
// status as the web user sees it.
func (h *Hub) Cluster() Cluster { return Cluster{h} }

// Cluster is the hub's pages' view of the cluster (hubui.Cluster).
type Cluster struct{ h *Hub }

// View reads this member's views (the projection, as far as it got).
func (c Cluster) View(fn func(views replication.Tx) error) error {
	return c.h.fsm.read(func(tx replication.Tx) error { return fn(replication.ReadViews(tx)) })
}

// ClusterStatus is ClusterService.ClusterStatus for the caller of ctx:
// the call fans out to the other members with a short-lived token of that
// user.
func (c Cluster) ClusterStatus(ctx context.Context) (*adminv1.ClusterStatusResponse, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, fault.ErrUnauthenticated
	}
	signer, err := c.h.Signer()
	if err != nil {
		return nil, err
	}
	tok, _ := signer.Issue(*p, time.Now(), time.Minute)
	req := connect.NewRequest(&adminv1.ClusterStatusRequest{})
	req.Header().Set("Authorization", "Bearer "+tok)
	resp, err := clusterService{c.h}.ClusterStatus(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (h *Hub) ready() error {
	if id, _ := h.leaderURL(); id == "" {
		return errors.New("no raft leader")
	}
	return h.disk.Check()
}

// leaderOnly are the procedures and pages that change the cluster's
// state: only the leader can propose them, so other members pass them on.
// Logging out of the pages revokes the session through Raft.
var leaderOnly = map[string]bool{
	replicationv1connect.ReplicationServicePushProcedure: true,
	adminv1connect.ClusterServiceAddNodeProcedure:        true,
	adminv1connect.ClusterServiceRemoveNodeProcedure:     true,
	adminv1connect.ClusterServiceJoinProcedure:           true,
	adminv1connect.ClusterServiceLeaveProcedure:          true,
	"/logout": true,
}

// headOfficeCommand reports whether r is for a page of head office's
// commands (zones, tariffs, branch names): forms posted there commit
// through Raft (Commands) and so run on the leader, and the pages
// themselves are served by the leader too, so that a user sees the change
// they just made whichever member they are on. Sessions are valid on
// every member.
func (h *Hub) headOfficeCommand(r *http.Request) bool {
	path := r.URL.Path
	for _, p := range h.cfg.LeaderPages {
		if rest, ok := strings.CutPrefix(path, p); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

// leaderWait is how long a member holds a leader-only call while there is
// no leader, before answering Unavailable.
const leaderWait = 5 * time.Second

// forwardedHeader marks a call a member passed on to the leader, so that
// it is never passed on twice (the leader changed meanwhile: the caller
// retries).
const forwardedHeader = "Branchline-Forwarded-By"

// forward proxies leader-only calls that reach a follower to the leader,
// unchanged: the leader authenticates the caller itself. Nodes therefore
// need not know which member leads.
func (h *Hub) forward(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !leaderOnly[r.URL.Path] && !h.headOfficeCommand(r) || h.IsLeader() {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get(forwardedHeader) != "" {
			http.Error(w, "no hub leader at the moment; retry", http.StatusServiceUnavailable)
			return
		}
		leader, _ := h.leaderURL()
		// During an election, wait a little for the new leader rather
		// than fail the call.
		for deadline := time.Now().Add(leaderWait); leader == "" && time.Now().Before(deadline) && r.Context().Err() == nil; {
			time.Sleep(50 * time.Millisecond)
			if h.IsLeader() {
				next.ServeHTTP(w, r)
				return
			}
			leader, _ = h.leaderURL()
		}
		if leader == "" {
			http.Error(w, "no hub leader at the moment; retry", http.StatusServiceUnavailable)
			return
		}
		target, err := url.Parse(leader)
		if err != nil {
			http.Error(w, "bad leader address", http.StatusServiceUnavailable)
			return
		}
		p := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Header.Set(forwardedHeader, h.cfg.ID)
			},
			Transport: h.hc.Transport,
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				h.log.Warn("forward to leader", "leader", leader, "err", err)
				http.Error(w, "hub leader unreachable; retry", http.StatusServiceUnavailable)
			},
		}
		p.ServeHTTP(w, r)
	})
}

// verifier accepts node tokens (looked up by hash in the registry) and
// users' tokens signed with the cluster's key.
type verifier struct{ h *Hub }

func (v verifier) Verify(tok string, now time.Time) (*auth.Principal, error) {
	if strings.HasPrefix(tok, auth.NodeTokenPrefix) {
		id, ok := v.h.fsm.NodeForToken(auth.HashToken(tok))
		if !ok {
			return nil, auth.ErrBadToken
		}
		return &auth.Principal{User: id, Roles: []string{auth.RoleNode}}, nil
	}
	s, err := v.h.Signer()
	if err != nil {
		return nil, auth.ErrBadToken
	}
	return s.Verify(tok, now)
}

// Signer signs and verifies users' API tokens with the cluster's key, once
// this member holds it.
func (h *Hub) Signer() (*auth.Signer, error) {
	key, err := h.SessionKey()
	if err != nil {
		return nil, err
	}
	return auth.NewSigner(key)
}

// SessionKey is the key every member holds once it has caught up: it signs
// users' API tokens and, under a key of its own derived from it, the
// hub pages' sessions.
func (h *Hub) SessionKey() ([]byte, error) {
	key, _, ok := h.fsm.Secret()
	if !ok {
		return nil, fmt.Errorf("%w: the cluster is not initialised yet", rpc.ErrUnavailable)
	}
	return key, nil
}

// Revocations keeps the hub pages' logged-out sessions in the state
// machine (web.SignedSessions): a logout is committed through Raft, so
// that every member, and every member to come, refuses the session.
func (h *Hub) Revocations() Revocations { return Revocations{h} }

// Revocations are the hub's revoked sessions (Hub.Revocations).
type Revocations struct{ h *Hub }

// Revoke refuses the session of idHash until it would have expired.
func (r Revocations) Revoke(_ context.Context, idHash []byte, until time.Time) error {
	_, err := r.h.apply(&hubv1.Command{Op: &hubv1.Command_RevokeSession{RevokeSession: &hubv1.RevokeSession{
		IdHash: idHash, UntilMs: until.UnixMilli()}}})
	return err
}

// Revoked says whether the session of idHash was revoked.
func (r Revocations) Revoked(_ context.Context, idHash []byte) (bool, error) {
	return r.h.fsm.SessionRevoked(idHash, time.Now())
}

// Login checks the cluster admin's password.
func (h *Hub) Login(_ context.Context, user, password string) (*auth.Principal, error) {
	_, hash, ok := h.fsm.Secret()
	if !ok {
		return nil, fmt.Errorf("%w: the cluster is not initialised yet", rpc.ErrUnavailable)
	}
	if user != AdminUser {
		auth.CheckUnknown(password)
		return nil, auth.ErrBadCredentials
	}
	good, err := auth.CheckPassword(hash, password)
	if err != nil {
		return nil, err
	}
	if !good {
		return nil, auth.ErrBadCredentials
	}
	return &auth.Principal{User: user, Roles: []string{auth.RoleAdmin}}, nil
}

// Status is the member's status (AdminService.Status).
func (h *Hub) Status(context.Context) (*adminv1.StatusResponse, error) {
	leader, _ := h.leaderURL()
	st := h.fsm.state()
	made, err := h.fsm.DurableSeq(replication.HubOrigin)
	if err != nil {
		return nil, err
	}
	active, err := h.fsm.ActiveCapabilities()
	if err != nil {
		return nil, err
	}
	return &adminv1.StatusResponse{
		HubEvents:             made,
		Id:                    h.cfg.ID,
		Role:                  "hub",
		RaftState:             h.raft.State().String(),
		AppliedPosition:       st.Head,
		HubLeader:             leader,
		Digest:                h.fsm.EventDigest().String(),
		ScopeDigests:          replication.DigestStrings(h.fsm.EventDigests()),
		EventsApplied:         h.fsm.AppliedCount(),
		EventsParked:          h.fsm.ParkedCount(),
		EventsInvalid:         h.fsm.InvalidCount(),
		Version:               version.String(),
		ProtocolVersion:       replication.Protocol,
		DiskFull:              h.disk.Low(),
		DiskFreeBytes:         h.disk.Free(),
		MaxClockOffsetSeconds: h.cfg.MaxClockOffset.Seconds(),
		Capabilities:          h.capabilities,
		ActiveCapabilities:    active,
		ProjectedPosition:     h.fsm.Projected(),
		Invalid:               h.fsm.InvalidEvents(20),
		ProjectionLagSeconds:  h.projectionLag().Seconds(),
	}, nil
}

// clusterService implements branchline.admin.v1.ClusterService: node
// registration and membership, for the cluster admin.
type clusterService struct{ h *Hub }

var _ adminv1connect.ClusterServiceHandler = clusterService{}

func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

func (s clusterService) AddNode(ctx context.Context, req *connect.Request[adminv1.AddNodeRequest]) (*connect.Response[adminv1.AddNodeResponse], error) {
	if err := rpc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	id := req.Msg.GetId()
	if !replication.ValidNodeID(id) || id == replication.HubOrigin {
		return nil, invalid("node id %q: %v (and not %q)", id, replication.ErrInvalidID, replication.HubOrigin)
	}
	tok := auth.NewNodeToken()
	if _, err := s.h.apply(&hubv1.Command{Op: &hubv1.Command_AddNode{AddNode: &hubv1.AddNode{Id: id, TokenHash: auth.HashToken(tok)}}}); err != nil {
		return nil, s.h.commandError(err)
	}
	s.h.log.Info("node registered", "node", id)
	return connect.NewResponse(&adminv1.AddNodeResponse{Id: id, Token: tok}), nil
}

func (s clusterService) RemoveNode(ctx context.Context, req *connect.Request[adminv1.RemoveNodeRequest]) (*connect.Response[adminv1.RemoveNodeResponse], error) {
	if err := rpc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	if _, err := s.h.apply(&hubv1.Command{Op: &hubv1.Command_RemoveNode{RemoveNode: &hubv1.RemoveNode{Id: req.Msg.GetId()}}}); err != nil {
		return nil, s.h.commandError(err)
	}
	s.h.log.Info("node removed", "node", req.Msg.GetId())
	return connect.NewResponse(&adminv1.RemoveNodeResponse{}), nil
}

func (s clusterService) ListNodes(ctx context.Context, _ *connect.Request[adminv1.ListNodesRequest]) (*connect.Response[adminv1.ListNodesResponse], error) {
	if err := rpc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	nodes, err := s.h.nodeInfos()
	if err != nil {
		return nil, rpc.Error(s.h.log, err)
	}
	return connect.NewResponse(&adminv1.ListNodesResponse{Nodes: nodes}), nil
}

func (h *Hub) nodeInfos() ([]*adminv1.NodeInfo, error) {
	recs, err := h.fsm.Nodes()
	if err != nil {
		return nil, err
	}
	holds, err := h.fsm.holds()
	if err != nil {
		return nil, err
	}
	out := make([]*adminv1.NodeInfo, 0, len(recs))
	for _, r := range recs {
		seq, err := h.fsm.DurableSeq(r.ID)
		if err != nil {
			return nil, err
		}
		ni := &adminv1.NodeInfo{Id: r.ID, DurableSeq: seq, Added: timestamppb.New(time.UnixMilli(r.AddedMs)), Holds: holds[r.ID]}
		if ni.Scopes, err = h.NodeScopes(r.ID); err != nil {
			return nil, err
		}
		if c := h.lastContact(r.ID); !c.at.IsZero() {
			ni.LastContact = timestamppb.New(c.at)
			ni.LastSeq, ni.Cursor = max(c.lastSeq, seq), c.cursor
			ni.ClockOffsetSeconds, ni.Stuck, ni.StuckSeq = c.offset.Seconds(), c.stuck, c.stuckSeq
			if c.stuckSeq != 0 {
				ni.StuckStamp = timestamppb.New(c.stuckStamp.Time())
			}
			ni.Version, ni.ProtocolVersion = c.version, c.protocol
		}
		out = append(out, ni)
	}
	return out, nil
}

func (s clusterService) Join(ctx context.Context, req *connect.Request[adminv1.JoinRequest]) (*connect.Response[adminv1.JoinResponse], error) {
	if err := rpc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	m := req.Msg
	if !replication.ValidNodeID(m.GetId()) {
		return nil, invalid("member id %q: %v", m.GetId(), replication.ErrInvalidID)
	}
	if _, _, err := net.SplitHostPort(m.GetRaftAddr()); err != nil {
		return nil, invalid("raft address %q: %v", m.GetRaftAddr(), err)
	}
	if u, err := url.Parse(m.GetHttpAddr()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("http address %q is not an http(s) URL", m.GetHttpAddr())
	}
	f := s.h.raft.AddVoter(raft.ServerID(m.GetId()), raft.ServerAddress(m.GetRaftAddr()), 0, 30*time.Second)
	if err := f.Error(); err != nil {
		return nil, s.h.commandError(fmt.Errorf("%w: add voter: %v", rpc.ErrUnavailable, err))
	}
	if _, err := s.h.apply(&hubv1.Command{Op: &hubv1.Command_SetMember{SetMember: &hubv1.SetMember{
		Id: m.GetId(), RaftAddr: m.GetRaftAddr(), HttpAddr: m.GetHttpAddr(),
	}}}); err != nil {
		return nil, s.h.commandError(err)
	}
	s.h.log.Info("member joined", "member", m.GetId(), "raft", m.GetRaftAddr(), "http", m.GetHttpAddr())
	return connect.NewResponse(&adminv1.JoinResponse{}), nil
}

func (s clusterService) Leave(ctx context.Context, req *connect.Request[adminv1.LeaveRequest]) (*connect.Response[adminv1.LeaveResponse], error) {
	if err := rpc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	id := req.Msg.GetId()
	found := false
	for _, srv := range s.h.raft.GetConfiguration().Configuration().Servers {
		found = found || string(srv.ID) == id
	}
	if !found {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("%q is not a member", id))
	}
	if err := s.h.raft.RemoveServer(raft.ServerID(id), 0, 30*time.Second).Error(); err != nil {
		return nil, s.h.commandError(fmt.Errorf("%w: remove member: %v", rpc.ErrUnavailable, err))
	}
	if _, err := s.h.apply(&hubv1.Command{Op: &hubv1.Command_RemoveMember{RemoveMember: &hubv1.RemoveMember{Id: id}}}); err != nil {
		return nil, s.h.commandError(err)
	}
	s.h.log.Info("member left", "member", id)
	return connect.NewResponse(&adminv1.LeaveResponse{}), nil
}

// ClusterStatus gathers every member's view: Raft state and position from
// each member's Status, and each node's last contact as the latest any
// member saw. Unreachable members are listed with state "unreachable".
func (s clusterService) ClusterStatus(ctx context.Context, req *connect.Request[adminv1.ClusterStatusRequest]) (*connect.Response[adminv1.ClusterStatusResponse], error) {
	if err := rpc.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	h := s.h
	_, leaderID := h.leaderURL()
	recs, err := h.fsm.Members()
	if err != nil {
		return nil, rpc.Error(h.log, err)
	}
	nodes, err := h.nodeInfos()
	if err != nil {
		return nil, rpc.Error(h.log, err)
	}
	byID := map[string]*adminv1.NodeInfo{}
	for _, n := range nodes {
		byID[n.GetId()] = n
	}
	tok, _ := rpc.BearerToken(req.Header())
	retained, err := h.fsm.Retained()
	if err != nil {
		return nil, rpc.Error(h.log, err)
	}
	out := &adminv1.ClusterStatusResponse{LeaderId: leaderID, CommitIndex: h.raft.CommitIndex(), HeadPosition: h.fsm.state().Head,
		MaxClockOffsetSeconds: h.cfg.MaxClockOffset.Seconds(), RetainedPosition: retained, RetainEvents: h.cfg.RetainEvents}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, srv := range h.raft.GetConfiguration().Configuration().Servers {
		m := &adminv1.Member{Id: string(srv.ID), RaftAddr: string(srv.Address), HttpAddr: recs[string(srv.ID)].HTTPAddr, Suffrage: srv.Suffrage.String()}
		out.Members = append(out.Members, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, others := h.memberView(ctx, m, tok)
			mu.Lock()
			defer mu.Unlock()
			if st == nil {
				m.State = "unreachable"
				return
			}
			m.State, m.AppliedPosition, m.Digest = st.GetRaftState(), st.GetAppliedPosition(), st.GetDigest()
			for _, o := range others {
				n := byID[o.GetId()]
				if n == nil || o.GetLastContact() == nil {
					continue
				}
				if n.GetLastContact() == nil || o.GetLastContact().AsTime().After(n.GetLastContact().AsTime()) {
					n.LastContact = o.GetLastContact()
				}
				n.LastSeq = max(n.GetLastSeq(), o.GetLastSeq())
				n.Cursor = max(n.GetCursor(), o.GetCursor())
				// Pushes reach the leader: what it measured fills the gaps
				// of members that only served pulls.
				if n.GetStuck() == "" {
					n.Stuck, n.StuckSeq, n.StuckStamp = o.GetStuck(), o.GetStuckSeq(), o.GetStuckStamp()
				}
				if n.GetClockOffsetSeconds() == 0 {
					n.ClockOffsetSeconds = o.GetClockOffsetSeconds()
				}
				if n.GetVersion() == "" {
					n.Version, n.ProtocolVersion = o.GetVersion(), o.GetProtocolVersion()
				}
			}
		}()
	}
	wg.Wait()
	sort.Slice(out.Members, func(i, j int) bool { return out.Members[i].Id < out.Members[j].Id })
	now := time.Now()
	for _, n := range nodes {
		if n.GetLastContact() == nil || n.GetCursor() >= out.HeadPosition {
			continue
		}
		if at, err := h.fsm.CommitTime(n.GetCursor() + 1); err == nil {
			n.LagSeconds = max(0, now.Sub(at).Seconds())
		}
	}
	out.Nodes = nodes
	return connect.NewResponse(out), nil
}

// memberView asks one member for its status and its nodes' last contact.
func (h *Hub) memberView(ctx context.Context, m *adminv1.Member, tok string) (*adminv1.StatusResponse, []*adminv1.NodeInfo) {
	if m.GetId() == h.cfg.ID {
		st, _ := h.Status(ctx)
		return st, nil
	}
	if m.GetHttpAddr() == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := adminv1connect.NewAdminServiceClient(h.hc, m.GetHttpAddr(), rpc.WithBearer(tok)).Status(ctx, connect.NewRequest(&adminv1.StatusRequest{}))
	if err != nil {
		return nil, nil
	}
	nodes, err := adminv1connect.NewClusterServiceClient(h.hc, m.GetHttpAddr(), rpc.WithBearer(tok)).ListNodes(ctx, connect.NewRequest(&adminv1.ListNodesRequest{}))
	if err != nil {
		return st.Msg, nil
	}
	return st.Msg, nodes.Msg.GetNodes()
}

// joinLoop asks the member at JoinURL, as the cluster admin, to add this
// member, until it is part of a configuration.
func (h *Hub) joinLoop(ctx context.Context) {
	delay := 200 * time.Millisecond
	for ctx.Err() == nil && !h.hasState() {
		err := h.join(ctx)
		if err == nil {
			h.log.Info("joined the cluster", "via", h.cfg.JoinURL)
			return
		}
		h.log.Warn("join", "via", h.cfg.JoinURL, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (h *Hub) join(ctx context.Context) error {
	if h.cfg.AdminPassword == "" {
		return errors.New("joining needs the cluster admin's password (BRANCHLINE_ADMIN_PASSWORD)")
	}
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	login, err := authv1connect.NewAuthServiceClient(h.hc, h.cfg.JoinURL).Login(ctx,
		connect.NewRequest(&authv1.LoginRequest{Username: AdminUser, Password: h.cfg.AdminPassword}))
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	_, err = adminv1connect.NewClusterServiceClient(h.hc, h.cfg.JoinURL, rpc.WithBearer(login.Msg.GetToken())).Join(ctx,
		connect.NewRequest(&adminv1.JoinRequest{Id: h.cfg.ID, RaftAddr: h.RaftAddr(), HttpAddr: h.url}))
	return err
}
