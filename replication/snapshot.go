package replication

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// SnapshotReads names the formats of stored values a snapshot of this
// release's views may hold beyond what protocol 3 promised; a node of this
// release names them in its SnapshotRequest, and a hub serves a snapshot
// only to a caller that names every one it holds (the SnapshotRequest's
// reads). "index-record:2": customer index records front-coded;
// "index-shipped:1": the entries of an index outside its Shipped prefixes
// left out, for the node to build (SnapshotMarks); "customer-created:1":
// the fields a customer's creation set kept as one register (crm's
// record.go). A node of an older release is refused and replays the log
// instead: its index would misread the records, lack the entries left
// out, or read customers without the fields they were created with.
var SnapshotReads = []string{"index-record:2", "index-shipped:1", "customer-created:1"}

// SnapshotReadsError explains why a caller reading reads cannot be sent
// this release's snapshots (nil when it can).
func SnapshotReadsError(peer string, reads []string) error {
	for _, r := range SnapshotReads {
		if !slices.Contains(reads, r) {
			return fmt.Errorf("%s does not read %q, which this hub's snapshots hold: it replays the log instead (upgrade it to bootstrap from a snapshot)", peer, r)
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotCRC is the CRC a chunk of a snapshot carries: the Castagnoli
// CRC of its keys and values, each length-prefixed (uvarint), in order.
func SnapshotCRC(keys, values [][]byte) uint32 {
	var crc uint32
	var n [binary.MaxVarintLen64]byte
	for i := range keys {
		crc = crc32.Update(crc, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(keys[i])))])
		crc = crc32.Update(crc, castagnoli, keys[i])
		if i < len(values) {
			crc = crc32.Update(crc, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(values[i])))])
			crc = crc32.Update(crc, castagnoli, values[i])
		}
	}
	return crc
}

// BehindRetentionHeader is set on the error of a Pull the hub refuses
// because the caller's cursor is before the retention point of its log
// (the company-wide events after it are gone): the caller takes a
// snapshot of the company views instead. Its value is the point.
const BehindRetentionHeader = "Branchline-Behind-Retention"
