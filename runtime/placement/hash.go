package placement

// The placement hash must be identical in every process and release: two
// nodes that disagree on it place one grain on two members. It therefore
// uses fixed constants (FNV-1a 64 and the splitmix64 finaliser), never
// hash/maphash, whose seed is per process.
//
// protoactor-go's disthash scores FNV-1a 32 over identity||address. FNV's
// last steps barely mix the final bytes, and member addresses on one host
// differ only in their last bytes (the port), so one member wins about half
// of all grains. Here the identity and the address are each hashed and
// finalised on their own, and the score is the finaliser of their xor: a
// one-bit change in either input flips about half of the score's bits.

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fnv1a64 is FNV-1a 64 over s, without hash.Hash's allocation.
func fnv1a64(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// mix64 is the splitmix64 finaliser (Stafford's variant 13): a bijection
// on uint64 with full avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// identityHash is the well-mixed hash of a grain identity.
func identityHash(identity string) uint64 { return mix64(fnv1a64(identity)) }

// memberSeed is the well-mixed hash of a member's placement key (its
// address), computed once per topology.
func memberSeed(address string) uint64 {
	// A distinct finalisation round keeps member seeds and identity hashes
	// from cancelling when an identity happens to equal an address.
	return mix64(fnv1a64(address) ^ 0x9e3779b97f4a7c15)
}

// score is the rendezvous weight of the grain with identity hash h on the
// member with seed seed; the highest weight owns the grain.
func score(h, seed uint64) uint64 { return mix64(h ^ seed) }
