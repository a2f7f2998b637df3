package access

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	// The zone database, for replicas whose system lacks one (a branch
	// PC's minimal image): every replica must evaluate a role's windows in
	// the same zone, or a login would be allowed at one and refused at
	// another.
	_ "time/tzdata"
)

// DefaultTimeZone is the zone of a role that names none.
const DefaultTimeZone = "Asia/Shanghai"

// MaxWindows bounds the time windows of one role.
const MaxWindows = 16

// Window is a weekly time window in a role's local time: on the listed
// days, from Start to End (minutes after midnight). A window whose End is
// not after its Start runs overnight: it opens on a listed day at Start and
// closes the next day at End.
type Window struct {
	Days  uint8 // bit d set: open on time.Weekday(d)
	Start int   // 0 … 1439
	End   int   // 1 … 1440
}

// On reports whether the window opens on day d.
func (w Window) On(d time.Weekday) bool { return w.Days&(1<<uint(d)) != 0 }

// OpenAt reports whether the window is open at the local time t.
func (w Window) OpenAt(t time.Time) bool {
	d, m := t.Weekday(), t.Hour()*60+t.Minute()
	if w.Start < w.End {
		return w.On(d) && m >= w.Start && m < w.End
	}
	prev := (d + 6) % 7
	return (w.On(d) && m >= w.Start) || (w.On(prev) && m < w.End)
}

// dayNames are the days in ISO order (Monday first), as FormatWindows
// writes them.
var dayNames = []struct {
	name string
	day  time.Weekday
}{
	{"mon", time.Monday}, {"tue", time.Tuesday}, {"wed", time.Wednesday}, {"thu", time.Thursday},
	{"fri", time.Friday}, {"sat", time.Saturday}, {"sun", time.Sunday},
}

// ISODay converts an ISO day number (1 Monday … 7 Sunday).
func ISODay(n int) (time.Weekday, bool) {
	if n < 1 || n > 7 {
		return 0, false
	}
	return time.Weekday(n % 7), true
}

// ISODays lists the window's days as ISO numbers, Monday first.
func (w Window) ISODays() []int {
	var out []int
	for i, d := range dayNames {
		if w.On(d.day) {
			out = append(out, i+1)
		}
	}
	return out
}

// FormatClock writes minutes after midnight as "HH:MM".
func FormatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// ParseClock reads "HH:MM" (00:00 … 24:00).
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return hh*60 + mm, nil
}

// String is the canonical text of the window: "mon,tue 08:00-18:00".
func (w Window) String() string {
	var days []string
	for _, d := range dayNames {
		if w.On(d.day) {
			days = append(days, d.name)
		}
	}
	return strings.Join(days, ",") + " " + FormatClock(w.Start) + "-" + FormatClock(w.End)
}

// Validate checks a window.
func (w Window) Validate() error {
	switch {
	case w.Days == 0 || w.Days >= 1<<7:
		return errors.New("a window needs at least one day")
	case w.Start < 0 || w.Start >= 24*60:
		return errors.New("a window starts between 00:00 and 23:59")
	case w.End < 1 || w.End > 24*60:
		return errors.New("a window ends between 00:01 and 24:00")
	}
	return nil
}

// FormatWindows is the canonical text of a list of windows, kept as one
// register of the role: "mon,tue 08:00-18:00; sat 09:00-12:00".
func FormatWindows(ws []Window) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.String()
	}
	return strings.Join(parts, "; ")
}

// ParseWindows reads FormatWindows' text.
func ParseWindows(s string) ([]Window, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ";")
	if len(parts) > MaxWindows {
		return nil, fmt.Errorf("%d windows, at most %d", len(parts), MaxWindows)
	}
	out := make([]Window, 0, len(parts))
	for _, p := range parts {
		days, span, ok := strings.Cut(strings.TrimSpace(p), " ")
		from, to, ok2 := strings.Cut(strings.TrimSpace(span), "-")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%q is not a window (mon,tue 08:00-18:00)", p)
		}
		var w Window
		for _, d := range strings.Split(days, ",") {
			i := -1
			for j, dn := range dayNames {
				if dn.name == d {
					i = j
				}
			}
			if i < 0 {
				return nil, fmt.Errorf("%q is not a day (mon … sun)", d)
			}
			w.Days |= 1 << uint(dayNames[i].day)
		}
		var err error
		if w.Start, err = ParseClock(from); err != nil {
			return nil, err
		}
		if w.End, err = ParseClock(to); err != nil {
			return nil, err
		}
		if err := w.Validate(); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// loadZone loads an IANA zone; "" is DefaultTimeZone.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	if name == "Local" {
		// The replica's own zone would make the same role open at one
		// branch and closed at another.
		return nil, errors.New("the local zone differs between replicas")
	}
	return time.LoadLocation(name)
}
