package grain

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// newEventID returns a random UUIDv7 (RFC 9562) in its canonical text form
// for an event stamped now: 48 bits of Unix milliseconds, the version and
// variant, and 74 random bits from math/rand/v2's per-thread ChaCha8
// generator (seeded by the runtime from the OS). Event ids must be unique,
// not secret; unlike github.com/google/uuid's NewV7 this takes no global
// lock and makes no system call, on the command path of every grain.
func newEventID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], uint64(now.UnixMilli())<<16|0x7000|rand.Uint64()&0x0fff)
	binary.BigEndian.PutUint64(b[8:], rand.Uint64()&(1<<62-1)|1<<63)
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
