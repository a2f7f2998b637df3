package sipwire

import (
	"strconv"
	"strings"
)

// StreamLength returns the Content-Length of a message head on a stream,
// where it is required (RFC 3261 18.3).
func StreamLength(head []byte) (int, *Error) {
	n, found := 0, false
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok || CanonicalName(strings.TrimSpace(name)) != "content-length" {
			continue
		}
		if found {
			return 0, BadRequest("more than one Content-Length")
		}
		v := strings.TrimSpace(value)
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || !IsDigits(v) {
			return 0, BadRequest("bad Content-Length")
		}
		found = true
	}
	if !found {
		return 0, BadRequest("no Content-Length on a stream")
	}
	return n, nil
}
