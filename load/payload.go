package load

import (
	"hash/crc32"
	"strconv"
)

const (
	payloadLen = 100
	alphabet   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
)

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Payload is row id's payload in a run seeded by seed: 100 printable bytes, a function of both,
// so a row read back can be recomputed as well as checked against its stored CRC-32.
func Payload(seed, id uint64) string {
	var b [payloadLen]byte
	x := seed ^ id*0xd6e8feb86659fd93
	for i := 0; i < payloadLen; i += 10 {
		x = splitmix(x)
		v := x
		for j := i; j < i+10 && j < payloadLen; j++ {
			b[j] = alphabet[v&63]
			v >>= 6
		}
	}
	return string(b[:])
}

// CRC is the IEEE CRC-32 MariaDB's CRC32() computes, so the database can check a payload itself.
func CRC(s string) uint32 { return crc32.ChecksumIEEE([]byte(s)) }

// idCRC is MariaDB's CRC32(id): the CRC of the id's decimal text.
func idCRC(id uint64) uint32 {
	var b [20]byte
	return crc32.ChecksumIEEE(strconv.AppendUint(b[:0], id, 10))
}
