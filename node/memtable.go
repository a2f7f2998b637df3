package node

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// backMemtables allocates the disk blocks of Badger's memtable logs.
//
// Badger creates each memtable log as a sparse file (twice the memtable
// size) and writes it through a memory mapping: a write to a page the
// filesystem cannot back kills the process with SIGBUS. The disk guard
// stops writes before the volume is full, but another process may take
// the last free blocks between its check and Badger's write. Allocating
// the blocks of the logs that exist (fallocate(2) over their holes; the
// contents, zeros, do not change) closes that gap for everything but the
// first writes to a log Badger has just created. The node calls it when
// it opens the store and then every second; on a volume without room it
// fails quietly, as the guard has stopped writes by then.
func backMemtables(dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.mem"))
	if err != nil {
		return
	}
	for _, name := range files {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
			// Blocks already allocated are left as they are.
			_ = unix.Fallocate(int(f.Fd()), 0, 0, fi.Size()) // best effort, see above
		}
		f.Close()
	}
}
