package upcast

import (
	"fmt"
	"maps"
)

// legacySteps are the upcasters of the schemas of the original system
// (cim-domain-person), which stored JSON:
//
//	PersonCreated 1  {person_id, name, source, created_at}           (the original's "1.0")
//	PersonCreated 2  {person_id, name, source, metadata{timestamp,…}} (the original's "2.0")
//	PersonCreated 3  protobuf person.v1.PersonCreated
//	NameUpdated   1  {person_id, old_name, new_name, reason, updated_at} (also the
//	                 original's PersonNameUpdated 2.0: change_reason, metadata)
//	NameUpdated   2  protobuf person.v1.NameUpdated
//
// Names may be in any shape the original used (see personName), person ids
// a string or {"id":"<uuid>"}.
var legacySteps = []struct {
	eventType string
	from      uint32
	up        Upcaster
}{
	{"PersonCreated", 1, PersonCreatedV1ToV2},
	{"PersonCreated", 2, PersonCreatedV2ToV3},
	{"NameUpdated", 1, NameUpdatedV1ToV2},
}

// PersonCreatedV1ToV2 moves created_at into a metadata object as its
// timestamp: the original's 1.0→2.0 migration, without the random
// correlation id that migration invented (upcasters are pure).
func PersonCreatedV1ToV2(in Doc) (Doc, error) {
	if err := onlyKeys(in.Body, "PersonCreated schema 1", "person_id", "name", "source", "created_at", "version"); err != nil {
		return Doc{}, err
	}
	out := maps.Clone(in.Body)
	delete(out, "created_at")
	delete(out, "version")
	meta := map[string]any{}
	if at, ok := in.Body["created_at"]; ok && at != nil {
		if _, err := timestamp(at, "created_at"); err != nil {
			return Doc{}, err
		}
		meta["timestamp"] = at
	}
	out["metadata"] = meta
	return Doc{Body: out, Meta: in.Meta}, nil
}

// PersonCreatedV2ToV3 lifts the original's 2.0 shape to the protobuf
// PersonCreated: metadata becomes the envelope's metadata, the person id a
// string, the name a structured PersonName.
func PersonCreatedV2ToV3(in Doc) (Doc, error) {
	b := in.Body
	if err := onlyKeys(b, "PersonCreated schema 2", "person_id", "name", "source", "metadata", "version", "source_system", "import_id"); err != nil {
		return Doc{}, err
	}
	meta := in.Meta
	if b["metadata"] != nil {
		m, err := metadata(b["metadata"])
		if err != nil {
			return Doc{}, err
		}
		m.fill(meta)
		meta = m
	}
	id, err := personID(b["person_id"])
	if err != nil {
		return Doc{}, err
	}
	name, err := personName(b["name"])
	if err != nil {
		return Doc{}, err
	}
	out := map[string]any{"person_id": id, "name": name}
	if err := optString(b, "source", out, "source"); err != nil {
		return Doc{}, err
	}
	return Doc{Body: out, Meta: meta}, nil
}

// NameUpdatedV1ToV2 lifts the original's NameUpdated (reason, updated_at)
// and PersonNameUpdated 2.0 (change_reason, metadata) to the protobuf
// NameUpdated.
func NameUpdatedV1ToV2(in Doc) (Doc, error) {
	b := in.Body
	if err := onlyKeys(b, "NameUpdated schema 1", "person_id", "old_name", "new_name", "reason", "change_reason", "updated_at", "metadata", "version"); err != nil {
		return Doc{}, err
	}
	meta := in.Meta
	if b["metadata"] != nil {
		m, err := metadata(b["metadata"])
		if err != nil {
			return Doc{}, err
		}
		m.fill(meta)
		meta = m
	}
	if at := b["updated_at"]; at != nil {
		t, err := timestamp(at, "updated_at")
		if err != nil {
			return Doc{}, err
		}
		meta.OccurredAt = t
	}
	out := map[string]any{}
	var err error
	if out["new_name"], err = personName(b["new_name"]); err != nil {
		return Doc{}, fmt.Errorf("new_name: %w", err)
	}
	if b["old_name"] != nil {
		if out["old_name"], err = personName(b["old_name"]); err != nil {
			return Doc{}, fmt.Errorf("old_name: %w", err)
		}
	}
	reason, changeReason := map[string]any{}, map[string]any{}
	if err := optString(b, "reason", reason, "r"); err != nil {
		return Doc{}, err
	}
	if err := optString(b, "change_reason", changeReason, "r"); err != nil {
		return Doc{}, err
	}
	switch r, cr := reason["r"], changeReason["r"]; {
	case r != nil && cr != nil && r != cr:
		return Doc{}, fmt.Errorf("reason %q and change_reason %q differ", r, cr)
	case r != nil:
		out["change_reason"] = r
	case cr != nil:
		out["change_reason"] = cr
	}
	return Doc{Body: out, Meta: meta}, nil
}
