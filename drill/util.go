package drill

import "hash/crc32"

func crcOf(s string) uint32 { return crc32.ChecksumIEEE([]byte(s)) }
