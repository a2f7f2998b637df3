package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/gen/branchline/pickup/v1/pickupv1connect"
	"branchline/rpc"
)

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// pageClient is a browser without script: cookies, forms, no redirects
// followed.
type pageClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newPageClient(t *testing.T, base string) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *pageClient) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(b)
}

// csrf reads the form token of a page.
func (c *pageClient) csrf(path string) string {
	c.t.Helper()
	code, body := c.do(http.MethodGet, path, nil)
	m := csrfRe.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		c.t.Fatalf("GET %s: %d, no form token: %.300s", path, code, body)
	}
	return m[1]
}

// TestHeadOfficeCommandReachesEveryNode: head office adds a zone and names
// a branch on hub pages — at a member that does not lead, so that the
// commands are passed to the leader — and the zone and the name, events of
// origin "hub" with the user as actor, reach every node exactly once.
func TestHeadOfficeCommandReachesEveryNode(t *testing.T) {
	hubs := startCluster(t, 3)
	urls := hubURLs(hubs)
	a := startNode(t, "br-a", urls, addNode(t, "br-a", hubs...))
	b := startNode(t, "br-b", urls, addNode(t, "br-b", hubs...))
	leader := clusterStatus(t, hubs...).GetLeaderId()
	var follower *hubMember
	for _, h := range hubs {
		if h.id != leader {
			follower = h
		}
	}
	c := newPageClient(t, follower.url)
	if code, loc := c.do(http.MethodPost, "/login", url.Values{"_csrf": {c.csrf("/login")}, "username": {"admin"}, "password": {adminPassword}}); code != http.StatusSeeOther {
		t.Fatalf("log in at %s: %d %s", follower.id, code, loc)
	}
	form := url.Values{"_csrf": {c.csrf("/pickups/zones")}, "id": {"hq-pudong"}, "name": {"总部划定的浦东区域"},
		"postcodes": {"200120"}, "districts": {"浦东新区"}}
	if code, loc := c.do(http.MethodPost, "/pickups/zones", form); code != http.StatusSeeOther || loc != "/pickups/zones" {
		t.Fatalf("add a zone at a follower's page: %d %s", code, loc)
	}
	// The page the user is sent to, at the member they use, shows it.
	if code, body := c.do(http.MethodGet, "/pickups/zones", nil); code != http.StatusOK || !strings.Contains(body, "总部划定的浦东区域") {
		t.Fatalf("the zones page after the command: %d, without the zone: %.500s", code, body)
	}
	for _, n := range []*branch{a, b} {
		pk := pickupv1connect.NewPickupServiceClient(hc, n.url, rpc.WithBearer(mustLogin(t, n.url)))
		waitFor(t, 30*time.Second, "the zone at "+n.id, func() error {
			resp, err := pk.ListZones(context.Background(), connect.NewRequest(&pickupv1.ListZonesRequest{}))
			if err != nil {
				return err
			}
			for _, z := range resp.Msg.GetZones() {
				if z.GetId() == "hq-pudong" && z.GetName() == "总部划定的浦东区域" {
					return nil
				}
			}
			return fmt.Errorf("%d zones, not hq-pudong", len(resp.Msg.GetZones()))
		})
	}
	// Head office names a branch on the branch health page; the name is
	// company-wide: br-b's pages show br-a by it.
	form = url.Values{"_csrf": {c.csrf("/branches")}, "branch": {"br-a"}, "display_name": {"上海浦东营业部"}}
	if code, loc := c.do(http.MethodPost, "/branches", form); code != http.StatusSeeOther || loc != "/branches" {
		t.Fatalf("name a branch at a follower's page: %d %s", code, loc)
	}
	if code, body := c.do(http.MethodGet, "/branches", nil); code != http.StatusOK || !strings.Contains(body, "上海浦东营业部") {
		t.Fatalf("the branch health page after naming br-a: %d, without the name", code)
	}
	nb := newPageClient(t, b.url)
	if code, loc := nb.do(http.MethodPost, "/login", url.Values{"_csrf": {nb.csrf("/login")}, "username": {"admin"}, "password": {adminPassword}}); code != http.StatusSeeOther {
		t.Fatalf("log in at br-b: %d %s", code, loc)
	}
	waitFor(t, 30*time.Second, "br-a's name at br-b", func() error {
		if _, body := nb.do(http.MethodGet, "/admin/branches", nil); !regexp.MustCompile(`(?s)data-branch="br-a".*?上海浦东营业部`).MatchString(body) {
			return fmt.Errorf("br-b's branches page does not name br-a")
		}
		return nil
	})
	// Exactly once: every replica applied the nodes' events and the hub's.
	converged(t, 60*time.Second, 0, hubs, a, b)
	if made := status(t, hubs[0].url).GetHubEvents(); made == 0 {
		t.Fatal("the hub made no event")
	}
	// The members' views, hashed by a full scan, are the same.
	out, err := exec.Command(binary, "ctl", "--hub", urls, "--admin-password", adminPassword, "verify").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "members at the same position hold the same views") {
		t.Fatalf("ctl verify: %v\n%s", err, out)
	}
}
