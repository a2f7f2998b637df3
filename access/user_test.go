package access

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"branchline/auth"
	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

func TestCreateUserRefusesBadInput(t *testing.T) {
	r := newReplica(t)
	dept := r.addDepartment(t, "华东区", "")
	retired := r.addDepartment(t, "旧部门", "")
	r.mustChange(t)(RetireDepartment(r.read(), retired, true))
	r.addUser(t, "zhang.san", nil)
	good := hashOf(t, "correct horse")
	with := func(k, v string) map[string]string {
		m := map[string]string{FieldUsername: "li.si", FieldDisplayName: "李四"}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name        string
		id          string
		fields      map[string]string
		hash        string
		field, code string
	}{
		{"username missing", "", with(FieldUsername, "<unset>"), good, "username", "required"},
		{"username blank", "", with(FieldUsername, "   "), good, "username", "required"},
		{"username with space", "", with(FieldUsername, "li si"), good, "username", "bad_username"},
		{"username with Chinese", "", with(FieldUsername, "李四"), good, "username", "bad_username"},
		{"username starting with a dot", "", with(FieldUsername, ".lisi"), good, "username", "bad_username"},
		{"username too long", "", with(FieldUsername, strings.Repeat("a", 65)), good, "username", "too_long"},
		{"username reserved", "", with(FieldUsername, "Admin"), good, "username", "reserved"},
		{"username taken", "", with(FieldUsername, "ZHANG.SAN"), good, "username", "taken"},
		{"display_name missing", "", with(FieldDisplayName, "<unset>"), good, "display_name", "required"},
		{"display_name too long", "", with(FieldDisplayName, strings.Repeat("名", 101)), good, "display_name", "too_long"},
		{"display_name with control character", "", with(FieldDisplayName, "a\x07b"), good, "display_name", "bad_text"},
		{"invalid UTF-8", "", with(FieldDisplayName, "\xff"), good, "display_name", "bad_text"},
		{"bad phone", "", with(FieldPhone, "call me"), good, "phone", "bad_phone"},
		{"bad extension", "", with(FieldExtension, "12a"), good, "extension", "bad_extension"},
		{"bad department id", "", with(FieldDepartment, "sales"), good, "department", "bad_ref"},
		{"unknown department", "", with(FieldDepartment, newID()), good, "department", "not_found"},
		{"retired department", "", with(FieldDepartment, retired), good, "department", "retired"},
		{"bad flag", "", with(FieldMustChange, "yes"), good, "must_change_password", "bad_flag"},
		{"unknown field", "", with("nickname", "小李"), good, "nickname", "unknown_field"},
		{"no hash", "", with(FieldDepartment, dept), "", "password", "bad_hash"},
		{"plain password as hash", "", with(FieldDepartment, dept), "correct horse", "password", "bad_hash"},
		{"bad id", "user-1", with(FieldDepartment, dept), good, "name", "bad_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := c.id
			if id == "" {
				id = newID()
			}
			before := r.views.Digest()
			d, err := CreateUser(r.read(), id, c.fields, c.hash)
			wantInvalid(t, err, c.field, c.code)
			if d.Kind != "" || d.Body != nil {
				t.Errorf("a refused command made a draft: %+v", d)
			}
			if r.views.Digest() != before {
				t.Error("a refused command changed the views")
			}
		})
	}
}

func TestHashPasswordRefusesBadPasswords(t *testing.T) {
	_, err := HashPassword("short")
	wantInvalid(t, err, "password", "too_short")
	_, err = HashPassword(strings.Repeat("x", MaxPasswordLen+1))
	wantInvalid(t, err, "password", "too_long")
}

func TestUpdateUser(t *testing.T) {
	r := newReplica(t)
	id := r.addUser(t, "wang.wu", map[string]string{FieldPhone: "021-62345678"})
	other := r.addUser(t, "zhao.liu", nil)
	dept := r.addDepartment(t, "客服部", "")

	cases := []struct {
		name        string
		id          string
		fields      map[string]string
		field, code string
	}{
		{"nothing named", id, map[string]string{}, "update_mask", "required"},
		{"disabled is not an update", id, map[string]string{FieldDisabled: "1"}, FieldDisabled, "not_editable"},
		{"password is not an update", id, map[string]string{"password": "x"}, "password", "not_editable"},
		{"username of another user", id, map[string]string{FieldUsername: "zhao.liu"}, "username", "taken"},
		{"clearing the username", id, map[string]string{FieldUsername: ""}, "username", "required"},
		{"bad user id", "nope", map[string]string{FieldPhone: "123"}, "name", "bad_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := UpdateUser(r.read(), c.id, c.fields)
			wantInvalid(t, err, c.field, c.code)
		})
	}
	if _, _, err := UpdateUser(r.read(), newID(), map[string]string{FieldPhone: "123"}); !isNotFound(err) {
		t.Errorf("update of an unknown user: %v, want not found", err)
	}

	// Unchanged values make no event; changed ones only themselves.
	if _, ok, err := UpdateUser(r.read(), id, map[string]string{FieldPhone: " 021-62345678 "}); err != nil || ok {
		t.Errorf("unchanged phone: ok %v, %v", ok, err)
	}
	d, ok, err := UpdateUser(r.read(), id, map[string]string{FieldPhone: "021-62345678", FieldDepartment: dept, FieldUsername: "Wang.Wu2"})
	if err != nil || !ok {
		t.Fatalf("update: ok %v, %v", ok, err)
	}
	var got []string
	for _, fv := range d.Body.(*accessv1.UserFieldSet).GetFields() {
		got = append(got, fv.GetField()+"="+fv.GetValue())
	}
	if want := []string{"username=wang.wu2", "department=" + dept}; !slices.Equal(got, want) {
		t.Fatalf("fields %q, want %q", got, want)
	}
	r.record(t, d)
	u, err := GetUser(r.read(), id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "wang.wu2" || u.Department != dept || u.Phone != "021-62345678" {
		t.Errorf("user after update: %+v", u)
	}
	// The old name is free again, the new one resolves.
	if _, err := UserByUsername(r.read(), "wang.wu"); !isNotFound(err) {
		t.Errorf("old username still resolves: %v", err)
	}
	if u, err := UserByUsername(r.read(), "WANG.WU2"); err != nil || u.ID != id {
		t.Errorf("new username: %v, %v", u, err)
	}
	_ = other
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, fault.ErrNotFound) }

func TestAuthenticate(t *testing.T) {
	r := newReplica(t)
	r.addUser(t, "qian.qi", nil)
	off := r.addUser(t, "sun.ba", nil)
	r.mustChange(t)(SetDisabled(r.read(), off, true))

	cases := []struct {
		name, user, password string
		ok                   bool
	}{
		{"good", "qian.qi", "correct horse", true},
		{"username in another case, with spaces", "  Qian.Qi ", "correct horse", true},
		{"wrong password", "qian.qi", "battery staple", false},
		{"empty password", "qian.qi", "", false},
		{"disabled", "sun.ba", "correct horse", false},
		{"unknown", "zhou.jiu", "correct horse", false},
		{"not a username", "周九", "correct horse", false},
		{"reserved", "admin", "correct horse", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := Authenticate(r.read(), c.user, c.password)
			if c.ok {
				if err != nil || u.Username != "qian.qi" {
					t.Fatalf("Authenticate = %v, %v", u, err)
				}
				return
			}
			if u != nil || err != auth.ErrBadCredentials {
				t.Fatalf("Authenticate = %v, %v; want ErrBadCredentials", u, err)
			}
		})
	}

	// A new password replaces the old one.
	u, err := UserByUsername(r.read(), "qian.qi")
	if err != nil {
		t.Fatal(err)
	}
	r.must(t)(SetPassword(r.read(), u.ID, hashOf(t, "battery staple"), true))
	if _, err := Authenticate(r.read(), "qian.qi", "correct horse"); err != auth.ErrBadCredentials {
		t.Errorf("old password after a change: %v", err)
	}
	u, err = Authenticate(r.read(), "qian.qi", "battery staple")
	if err != nil || !u.MustChangePassword {
		t.Errorf("new password: %+v, %v (must change password expected)", u, err)
	}
}

// Two branches offline give the same username to two users: the older
// claim keeps it at every replica, the other user is a visible conflict.
func TestUsernameConflict(t *testing.T) {
	a, b := newReplica(t), newReplica(t)
	b.origin = "bj-chaoyang"
	ua := a.addUser(t, "li.lei", nil) // a's clock is behind b's: a's claim is older
	b.hlc += 10
	ub := b.addUser(t, "li.lei", nil)
	// Exchange the events both ways.
	for _, pair := range []struct{ from, to *replica }{{a, b}, {b, a}} {
		pair.to.apply(t, pair.from.events(t))
	}
	if a.views.Digest() != b.views.Digest() {
		t.Fatal("replicas differ after exchanging their events")
	}
	for _, r := range []*replica{a, b} {
		won, err := UserByUsername(r.read(), "li.lei")
		if err != nil || won.ID != ua {
			t.Fatalf("owner of li.lei = %v, %v; want %s", won, err, ua)
		}
		lost, err := GetUser(r.read(), ub)
		if err != nil || lost.UsernameOwner != ua {
			t.Fatalf("loser = %+v, %v; want UsernameOwner %s", lost, err, ua)
		}
		cs, err := UsernameConflicts(r.read())
		if err != nil || len(cs) != 1 || cs[0].Owner != ua || !slices.Equal(cs[0].Losers, []string{ub}) {
			t.Fatalf("conflicts = %+v, %v", cs, err)
		}
		if _, err := Authenticate(r.read(), "li.lei", "correct horse"); err != nil {
			t.Fatalf("the owner cannot log in: %v", err)
		}
		if _, err := Authenticate(r.read(), "li.lei", "battery staple"); err != auth.ErrBadCredentials {
			t.Fatalf("a wrong password for li.lei: %v", err)
		}
	}
	// Renaming the loser resolves the conflict.
	a.mustChange(t)(UpdateUser(a.read(), ub, map[string]string{FieldUsername: "li.lei2"}))
	if cs, err := UsernameConflicts(a.read()); err != nil || len(cs) != 0 {
		t.Fatalf("conflicts after rename = %+v, %v", cs, err)
	}
	if u, err := UserByUsername(a.read(), "li.lei2"); err != nil || u.ID != ub || u.UsernameOwner != "" {
		t.Fatalf("renamed loser = %+v, %v", u, err)
	}
}

// events returns every event the replica recorded itself, in seq order.
func (r *replica) events(t *testing.T) []*replication.Event {
	t.Helper()
	return r.log
}

// apply applies events made elsewhere.
func (r *replica) apply(t *testing.T, evs []*replication.Event) {
	t.Helper()
	b := r.views.Begin(r.m)
	for _, ev := range evs {
		if _, err := b.Apply(ev); err != nil {
			t.Fatal(err)
		}
		if ev.HLC > r.hlc {
			r.hlc = ev.HLC
		}
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
}

func TestUserPrintsNoHash(t *testing.T) {
	r := newReplica(t)
	id := r.addUser(t, "zheng.shi", nil)
	u, err := GetUser(r.read(), id)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "user", u)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "user", u)
	for _, s := range []string{fmt.Sprint(u), fmt.Sprintf("%+v", u), fmt.Sprintf("%#v", u), fmt.Sprintf("%v", []*User{u}), buf.String()} {
		if strings.Contains(s, "argon2") {
			t.Errorf("printed user shows its hash: %s", s)
		}
	}
}

func TestCheckHashBoundsCosts(t *testing.T) {
	real, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	salt := "c2FsdHNhbHRzYWx0c2FsdA"
	key := "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s"
	cases := []struct {
		name string
		hash string
		ok   bool
	}{
		{"made by HashPassword", real, true},
		{"fake of the right shape", fakeHash, true},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"old version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"a gigabyte of memory", "$argon2id$v=19$m=1048576,t=2,p=1$" + salt + "$" + key, false},
		{"zero passes", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key, false},
		{"many lanes", "$argon2id$v=19$m=19456,t=2,p=255$" + salt + "$" + key, false},
		{"padded parameters", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key, false},
		{"short salt", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key, false},
		{"no key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$", false},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", false},
		{"plain text", "correct horse", false},
	}
	for _, c := range cases {
		if err := checkHash(c.hash); (err == nil) != c.ok {
			t.Errorf("%s: checkHash = %v, want ok %v", c.name, err, c.ok)
		}
	}
}
