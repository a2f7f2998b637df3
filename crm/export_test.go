package crm

// SetSmallList sets the most candidates a list orders in memory, so that
// tests of a few customers also take the paths of large lists; it returns
// a function that restores it.
func SetSmallList(n int) (restore func()) {
	old := smallList
	smallList = n
	return func() { smallList = old }
}
