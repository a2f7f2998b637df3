package replication

import (
	"encoding/binary"
	"hash/crc32"
)

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
