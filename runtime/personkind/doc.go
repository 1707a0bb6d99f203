// Package personkind wires the pure person domain (actors/person) into the
// generic grain shell: [Kind] is the grain.Kind of person grains, addressed
// as client.PersonKind, with protobuf PersonSnapshot snapshots and the
// GetPerson query.
package personkind
