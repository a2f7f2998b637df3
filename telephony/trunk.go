package telephony

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"branchline/fault"
	"branchline/replication"
)

// Trunk is a carrier or SIP gateway. Calls from it are accepted when they
// come from one of Sources or authenticate as Username; it delivers the
// numbers in DIDs, and outbound calls go to Proxy.
type Trunk struct {
	Name      string
	Sources   []netip.Prefix
	Username  string
	HA1       string
	DIDs      []string
	Proxy     string // host:port
	Transport string // "udp" or "tcp"
}

var trunkKind = &configKind{
	name: "trunk", validID: ValidName, idField: "name",
	fields: map[string]func(string) (string, error){
		"sources":   sourcesCheck,
		"username":  userCheck("username"),
		"ha1":       ha1Check,
		"dids":      numbersCheck("dids"),
		"proxy":     proxyCheck,
		"transport": transportCheck,
	},
}

// TrunkEntity is the entity of trunk name.
func TrunkEntity(name string) string { return trunkKind.entity(name) }

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

const maxListItems = 200

// sourcesCheck canonicalises a comma-separated list of CIDRs or addresses
// (an address is its /32 or /128).
func sourcesCheck(v string) (string, error) {
	items := splitList(v)
	if len(items) > maxListItems {
		return "", fault.Invalidf("sources", "too_many", "at most %d", maxListItems)
	}
	out := make([]string, 0, len(items))
	for _, s := range items {
		p, err := parseSource(s)
		if err != nil {
			return "", fault.Invalidf("sources", "bad_cidr", "%q is not an address or CIDR", s)
		}
		out = append(out, p.String())
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ","), nil
}

func parseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func numbersCheck(field string) func(string) (string, error) {
	return func(v string) (string, error) {
		items := splitList(v)
		if len(items) > maxListItems {
			return "", fault.Invalidf(field, "too_many", "at most %d", maxListItems)
		}
		for _, n := range items {
			if !ValidNumber(n) {
				return "", fault.Invalidf(field, "bad_number", "%q is not a number", n)
			}
		}
		slices.Sort(items)
		return strings.Join(slices.Compact(items), ","), nil
	}
}

func proxyCheck(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(v)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || p <= 0 || p > 65535 || host == "" || strings.ContainsAny(host, " <>;\"") {
		return "", fault.Invalidf("proxy", "bad_proxy", "%q is not host:port", v)
	}
	return v, nil
}

func transportCheck(v string) (string, error) {
	v = strings.ToLower(v)
	switch v {
	case "", "udp", "tcp":
		return v, nil
	}
	return "", fault.Invalidf("transport", "bad_transport", "udp or tcp")
}

// SetTrunk decides the event that creates or updates trunk t. A non-empty
// password replaces the digest secret of t.Username.
func SetTrunk(t Trunk, password string) (replication.Draft, error) {
	srcs := make([]string, len(t.Sources))
	for i, p := range t.Sources {
		srcs[i] = p.String()
	}
	fields := map[string]string{
		"sources": strings.Join(srcs, ","), "username": t.Username, "dids": strings.Join(t.DIDs, ","),
		"proxy": t.Proxy, "transport": t.Transport,
	}
	if password != "" {
		if t.Username == "" {
			return replication.Draft{}, fault.Invalidf("username", "required", "a password needs a username")
		}
		if strings.ContainsAny(password, "\x00\r\n") || len(password) > 64 {
			return replication.Draft{}, fault.Invalidf("password", "bad_password", "at most 64 characters")
		}
		fields["ha1"] = HA1(t.Username, password)
	}
	return trunkKind.set(t.Name, fields)
}

// ParseSources parses a list of CIDRs or addresses, for callers building
// a Trunk from user input.
func ParseSources(items []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(items))
	for _, s := range items {
		p, err := parseSource(strings.TrimSpace(s))
		if err != nil {
			return nil, fault.Invalidf("sources", "bad_cidr", "%q is not an address or CIDR", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// RemoveTrunk decides the event that removes trunk name.
func RemoveTrunk(views replication.Tx, name string) (replication.Draft, error) {
	return trunkKind.remove(views, name)
}

func trunkFrom(name string, f map[string]string) Trunk {
	t := Trunk{Name: name, Username: f["username"], HA1: f["ha1"], DIDs: splitList(f["dids"]),
		Proxy: f["proxy"], Transport: f["transport"]}
	for _, s := range splitList(f["sources"]) {
		if p, err := parseSource(s); err == nil {
			t.Sources = append(t.Sources, p)
		}
	}
	return t
}

// ListTrunks reads every trunk in name order.
func ListTrunks(views replication.Tx) ([]Trunk, error) {
	ids, all, err := trunkKind.list(views)
	if err != nil {
		return nil, err
	}
	out := make([]Trunk, len(ids))
	for i, id := range ids {
		out[i] = trunkFrom(id, all[i])
	}
	return out, nil
}

// GetTrunk reads trunk name.
func GetTrunk(views replication.Tx, name string) (Trunk, bool, error) {
	f, ok, err := trunkKind.get(views, name)
	if !ok || err != nil {
		return Trunk{}, false, err
	}
	return trunkFrom(name, f), true, nil
}

// Allows reports whether a request from addr comes from the trunk.
func (t *Trunk) Allows(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range t.Sources {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Delivers reports whether the trunk delivers number; a trunk without a
// DID list delivers any.
func (t *Trunk) Delivers(number string) bool {
	return len(t.DIDs) == 0 || slices.Contains(t.DIDs, number)
}
