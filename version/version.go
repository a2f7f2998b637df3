// Package version says which release of Branchline this binary is: the
// release name, the commit it was built from, and the node ⇄ hub protocol
// it speaks. It depends on nothing of Branchline.
package version

import (
	"runtime/debug"
	"sync"
)

// Release names the release; builds for distribution set it with
// -ldflags "-X branchline/version.Release=v1.4.0". Otherwise it is the
// module version Go recorded, or "dev".
var Release = ""

type build struct {
	release, commit string
	modified        bool
}

var info = sync.OnceValue(func() (i build) {
	i.release, i.commit = Release, "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return i
	}
	if i.release == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		i.release = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.commit = s.Value
		case "vcs.modified":
			i.modified = s.Value == "true"
		}
	}
	if i.release == "" {
		i.release = "dev"
	}
	return i
})

// String is the release, e.g. "v1.4.0" or "dev".
func String() string { return info().release }

// Commit is the VCS revision the binary was built from ("unknown" when Go
// did not record one), with "+modified" for a dirty work tree.
func Commit() string {
	i := info()
	if i.modified {
		return i.commit + "+modified"
	}
	return i.commit
}
