package policy

// NormalEmail exposes the fast path for the fuzz test.
var NormalEmail = normalEmail
