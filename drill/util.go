package drill

import (
	"hash/crc32"
	"iter"
	"maps"
)

func crcOf(s string) uint32 { return crc32.ChecksumIEEE([]byte(s)) }

func mapKeys[V any](m map[string]V) iter.Seq[string] { return maps.Keys(m) }
