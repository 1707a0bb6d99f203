package migrate

// The top-level keys of a legacy payload that tell its shape.
const (
	keyVersion = 1 << iota
	keySequence
	keyEvent
	keyEventType
	keyEventID
)

// probe is what probeLegacy found: the top-level keys present with a
// non-null value, and the raw value of "version".
type probe struct {
	keys    int
	version string
}

func (p probe) has(key int) bool { return p.keys&key != 0 }

// probeLegacy scans the top level of a JSON object without decoding it (a
// full decode of every legacy event only to tell its shape would cost as
// much again as a good part of the upcast). ok is false for anything but a
// well-formed object; the values of other keys are skipped, not checked.
func probeLegacy(data []byte) (p probe, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return probe{}, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return end(p, data, i+1)
	}
	for i < len(data) {
		keyStart := i
		if i = skipString(data, i); i < 0 {
			return probe{}, false
		}
		key := string(data[keyStart+1 : i-1])
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ':' {
			return probe{}, false
		}
		i = skipSpace(data, i+1)
		valueStart := i
		if i = skipValue(data, i); i < 0 {
			return probe{}, false
		}
		if value := string(data[valueStart:i]); value != "null" {
			switch key {
			case "version":
				p.keys |= keyVersion
				p.version = value
			case "sequence":
				p.keys |= keySequence
			case "event":
				p.keys |= keyEvent
			case "event_type":
				p.keys |= keyEventType
			case "event_id":
				p.keys |= keyEventID
			}
		}
		i = skipSpace(data, i)
		switch {
		case i >= len(data):
			return probe{}, false
		case data[i] == ',':
			i = skipSpace(data, i+1)
		case data[i] == '}':
			return end(p, data, i+1)
		default:
			return probe{}, false
		}
	}
	return probe{}, false
}

// end returns p if only spaces follow the object (ending before i).
func end(p probe, data []byte, i int) (probe, bool) {
	if skipSpace(data, i) != len(data) {
		return probe{}, false
	}
	return p, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at i, -1 if
// there is none.
func skipString(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at i, -1 if it
// is malformed (strings and nesting are followed; literals and numbers
// are taken as they come).
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				if i = skipString(data, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	return -1
}
