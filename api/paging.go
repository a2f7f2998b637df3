package api

import "branchline/fault"

// MaxPageSize bounds list pages.
const MaxPageSize = 500

// pageSize checks a requested page size: 0 means def, more than
// MaxPageSize means MaxPageSize, negative is invalid.
func pageSize(n int32, def int) (int, error) {
	switch {
	case n < 0:
		return 0, fault.Invalidf("page_size", "negative", "must not be negative")
	case n == 0:
		return def, nil
	case int(n) > MaxPageSize:
		return MaxPageSize, nil
	}
	return int(n), nil
}
