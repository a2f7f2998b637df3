package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "branchline/gen/branchline/admin/v1"
	"branchline/gen/branchline/admin/v1/adminv1connect"
	authv1 "branchline/gen/branchline/auth/v1"
	"branchline/gen/branchline/auth/v1/authv1connect"
	"branchline/rpc"
)

const ctlSummary = `Administers a hub cluster as its admin user (password from --admin-password or
BRANCHLINE_ADMIN_PASSWORD). Commands:

  nodes add ID       register a node; prints its token once (give it to the node's --token)
  nodes list         registered nodes, their durable seq and last contact
  nodes remove ID    unregister a node; its token stops working at once
  members remove ID  take a member out of the Raft cluster
  status             members, leader, commit index, retention, each node's durable seq, last contact
                     and the log position kept for it
  retention [--release ID,ID… | --release-all]
                     move the retention point of the hub's log now, by the rule (hub --retain-events),
                     never past a node's position unless released: a released node behind it takes a
                     snapshot again; prints the point and the nodes that hold it back
  verify             every member's views hashed by a full scan, compared between members
                     at the same position (also: Status with scan_views on a node)`

func runCtl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ctl --hub URL[,URL…] <command>", ctlSummary, stderr)
	hubs := fs.String("hub", "http://127.0.0.1:7000", "comma-separated URLs of hub members; the first that answers is used")
	user := fs.String("user", "admin", "admin user name")
	pw := fs.String("admin-password", "", "the admin's password")
	if err := parse(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return usagef("ctl: no command given")
	}
	if *pw == "" {
		return usagef("ctl: set BRANCHLINE_ADMIN_PASSWORD or --admin-password")
	}
	hc := rpc.NewHTTPClient()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	url, tok, err := ctlLogin(ctx, hc, splitList(*hubs), *user, *pw)
	if err != nil {
		return err
	}
	cluster := adminv1connect.NewClusterServiceClient(hc, url, rpc.WithBearer(tok))
	switch {
	case len(rest) == 3 && rest[0] == "nodes" && rest[1] == "add":
		resp, err := cluster.AddNode(ctx, connect.NewRequest(&adminv1.AddNodeRequest{Id: rest[2]}))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "node %s registered. Its token (shown only now):\n%s\n", resp.Msg.GetId(), resp.Msg.GetToken())
	case len(rest) == 2 && rest[0] == "nodes" && rest[1] == "list":
		resp, err := cluster.ListNodes(ctx, connect.NewRequest(&adminv1.ListNodesRequest{}))
		if err != nil {
			return err
		}
		printNodes(stdout, resp.Msg.GetNodes())
	case len(rest) == 3 && rest[0] == "nodes" && rest[1] == "remove":
		if _, err := cluster.RemoveNode(ctx, connect.NewRequest(&adminv1.RemoveNodeRequest{Id: rest[2]})); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "node %s removed\n", rest[2])
	case len(rest) == 3 && rest[0] == "members" && rest[1] == "remove":
		if _, err := cluster.Leave(ctx, connect.NewRequest(&adminv1.LeaveRequest{Id: rest[2]})); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "member %s removed\n", rest[2])
	case len(rest) >= 1 && rest[0] == "retention":
		rfs := newFlagSet("ctl retention [--release ID,ID… | --release-all]", "Moves the retention point of the hub's log now.", stderr)
		release := rfs.String("release", "", "comma-separated node ids whose position does not hold the log back")
		all := rfs.Bool("release-all", false, "release every node")
		if err := parse(rfs, rest[1:]); err != nil {
			return err
		}
		resp, err := cluster.Retain(ctx, connect.NewRequest(&adminv1.RetainRequest{Release: splitList(*release), ReleaseAll: *all}))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retention point: %d of %d (company-wide events up to it are dropped from the log)\n", resp.Msg.GetRetained(), resp.Msg.GetHead())
		for _, n := range resp.Msg.GetHeldBy() {
			fmt.Fprintf(stdout, "held back by node %s at %d (last contact %s)\n", n.GetId(), n.GetHolds(), ago(n.GetLastContact()))
		}
	case len(rest) == 1 && rest[0] == "verify":
		return ctlVerify(ctx, hc, cluster, tok, stdout)
	case len(rest) == 1 && rest[0] == "status":
		resp, err := cluster.ClusterStatus(ctx, connect.NewRequest(&adminv1.ClusterStatusRequest{}))
		if err != nil {
			return err
		}
		printStatus(stdout, resp.Msg)
	default:
		fs.Usage()
		return usagef("ctl: unknown command %q", rest)
	}
	return nil
}

// ctlLogin logs in at the first member that answers.
func ctlLogin(ctx context.Context, hc *http.Client, urls []string, user, pw string) (string, string, error) {
	var errs []error
	for _, u := range urls {
		resp, err := authv1connect.NewAuthServiceClient(hc, u).Login(ctx, connect.NewRequest(&authv1.LoginRequest{Username: user, Password: pw}))
		if err == nil {
			return u, resp.Msg.GetToken(), nil
		}
		if connect.CodeOf(err) == connect.CodeUnauthenticated {
			return "", "", fmt.Errorf("log in at %s: %w", u, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return "", "", fmt.Errorf("no hub member answered: %w", errors.Join(errs...))
}

func ago(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "never"
	}
	return time.Since(ts.AsTime()).Round(100*time.Millisecond).String() + " ago"
}

func printNodes(w io.Writer, nodes []*adminv1.NodeInfo) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tDURABLE SEQ\tBACKLOG\tAPPLIED POSITION\tLOG KEPT FROM\tLAST CONTACT\tADDED\tSCOPES")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", n.GetId(), n.GetDurableSeq(), n.GetLastSeq()-min(n.GetLastSeq(), n.GetDurableSeq()),
			n.GetCursor(), max(n.GetHolds(), n.GetCursor()), ago(n.GetLastContact()), n.GetAdded().AsTime().Local().Format(time.DateTime), strings.Join(n.GetScopes(), " "))
	}
	tw.Flush()
}

func printStatus(w io.Writer, st *adminv1.ClusterStatusResponse) {
	fmt.Fprintf(w, "leader: %s   commit index: %d   log position: %d\n", st.GetLeaderId(), st.GetCommitIndex(), st.GetHeadPosition())
	rule := "keep everything"
	if n := st.GetRetainEvents(); n > 0 {
		rule = fmt.Sprintf("keep the last %d positions", n)
	}
	fmt.Fprintf(w, "retention: company-wide events dropped up to %d (rule: %s)\n\n", st.GetRetainedPosition(), rule)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATE\tSUFFRAGE\tAPPLIED POSITION\tHTTP\tRAFT\tDIGEST")
	for _, m := range st.GetMembers() {
		d := m.GetDigest()
		if len(d) > 12 {
			d = d[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.GetId(), m.GetState(), m.GetSuffrage(), m.GetAppliedPosition(), m.GetHttpAddr(), m.GetRaftAddr(), d)
	}
	tw.Flush()
	fmt.Fprintln(w)
	printNodes(w, st.GetNodes())
}

// ctlVerify asks every member for the digest of its views' content,
// computed by a full scan, and compares those of members whose views
// reflect the same position: replicas that applied the same events must
// hold the same views, whatever order the events came in.
func ctlVerify(ctx context.Context, hc *http.Client, cluster adminv1connect.ClusterServiceClient, tok string, w io.Writer) error {
	cs, err := cluster.ClusterStatus(ctx, connect.NewRequest(&adminv1.ClusterStatusRequest{}))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tPROJECTED POSITION\tEVENT DIGEST\tVIEWS DIGEST (scan)")
	byPos := map[uint64]map[string]bool{}
	for _, m := range cs.Msg.GetMembers() {
		st, err := adminv1connect.NewAdminServiceClient(hc, m.GetHttpAddr(), rpc.WithBearer(tok)).
			Status(ctx, connect.NewRequest(&adminv1.StatusRequest{ScanViews: true}))
		if err != nil {
			fmt.Fprintf(tw, "%s\tunreachable: %v\t\t\n", m.GetId(), err)
			continue
		}
		s := st.Msg
		fmt.Fprintf(tw, "%s\t%d\t%.16s\t%.16s\n", m.GetId(), s.GetProjectedPosition(), s.GetDigest(), s.GetViewsDigest())
		if byPos[s.GetProjectedPosition()] == nil {
			byPos[s.GetProjectedPosition()] = map[string]bool{}
		}
		byPos[s.GetProjectedPosition()][s.GetDigest()+"/"+s.GetViewsDigest()] = true
	}
	tw.Flush()
	for pos, ds := range byPos {
		if len(ds) > 1 {
			return fmt.Errorf("members at position %d hold different views", pos)
		}
	}
	fmt.Fprintln(w, "\nmembers at the same position hold the same views")
	return nil
}
