package name

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cim/personrt/messages/personv1"
)

// Rule names of the errors returned by this package; every error is a
// *personv1.Error with code INVALID_ARGUMENT and one of these rules.
const (
	RuleRequired      = "name.required"                 // no name given
	RuleEmpty         = "name.empty"                    // Parse of blank text
	RuleGivenOrFamily = "name.given_or_family_required" // neither a given nor a family name
	RuleBlankPart     = "name.blank_part"               // an empty or untrimmed part
	RuleInvalidText   = "name.invalid_text"             // control characters or invalid UTF-8
	RuleTooLong       = "name.too_long"                 // a part or list over its limit
	RuleConvention    = "name.convention_unknown"       // a convention value outside the enum
)

// Limits enforced by [Validate].
const (
	MaxPartRunes = 100 // runes per name part
	MaxParts     = 20  // parts per list (given names, family names, …)
)

func reject(rule, format string, args ...any) *personv1.Error {
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, rule, format, args...)
}

// Validate checks n. It returns nil or a *personv1.Error (INVALID_ARGUMENT)
// naming the broken rule. Validate does not trim: call [Normalize] first to
// accept surrounding spaces.
func Validate(n *personv1.PersonName) error {
	if n == nil {
		return reject(RuleRequired, "a name is required")
	}
	if _, ok := personv1.NamingConvention_name[int32(n.GetConvention())]; !ok {
		return reject(RuleConvention, "unknown naming convention %d", n.GetConvention())
	}
	lists := [...]struct {
		field string
		parts []string
	}{
		{"given_names", n.GetGivenNames()},
		{"family_names", n.GetFamilyNames()},
		{"prefixes", n.GetPrefixes()},
		{"suffixes", n.GetSuffixes()},
	}
	for _, l := range lists {
		if len(l.parts) > MaxParts {
			return reject(RuleTooLong, "%s has %d parts, at most %d allowed", l.field, len(l.parts), MaxParts)
		}
		for i, p := range l.parts {
			if err := checkPart(l.field, i, p, true); err != nil {
				return err
			}
		}
	}
	singles := [...]struct {
		field, value string
	}{
		{"patronymic", n.GetPatronymic()},
		{"matronymic", n.GetMatronymic()},
		{"preferred_form", n.GetPreferredForm()},
	}
	for _, s := range singles {
		if err := checkPart(s.field, -1, s.value, false); err != nil {
			return err
		}
	}
	if len(n.GetGivenNames()) == 0 && len(n.GetFamilyNames()) == 0 {
		return reject(RuleGivenOrFamily, "a name needs at least one given name or family name")
	}
	return nil
}

// checkPart validates one part; index < 0 marks a single optional field,
// where the empty string means "not set". It does not allocate unless it
// rejects.
func checkPart(field string, index int, p string, required bool) error {
	if p == "" && !required {
		return nil
	}
	if strings.TrimSpace(p) != p || p == "" {
		return reject(RuleBlankPart, "%s is blank or has surrounding spaces", partLabel(field, index))
	}
	if !utf8.ValidString(p) {
		return reject(RuleInvalidText, "%s is not valid UTF-8", partLabel(field, index))
	}
	n := 0
	for _, r := range p {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return reject(RuleInvalidText, "%s contains the control character %U", partLabel(field, index), r)
		}
		n++
	}
	if n > MaxPartRunes {
		return reject(RuleTooLong, "%s has %d characters, at most %d allowed", partLabel(field, index), n, MaxPartRunes)
	}
	return nil
}

// partLabel names a part in messages: "given_names[1]" or "patronymic".
func partLabel(field string, index int) string {
	if index < 0 {
		return field
	}
	return field + "[" + strconv.Itoa(index) + "]"
}

// Normalize returns a copy of n with every part trimmed of surrounding
// white space. Empty optional fields stay empty; blank list entries become
// "" so that [Validate] reports them. Normalize(nil) is nil. The copy shares
// no slice with n.
func Normalize(n *personv1.PersonName) *personv1.PersonName {
	if n == nil {
		return nil
	}
	lists := [4][]string{n.GetGivenNames(), n.GetFamilyNames(), n.GetPrefixes(), n.GetSuffixes()}
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	buf := make([]string, 0, total) // one backing array for all four lists
	var out [4][]string
	for i, l := range lists {
		if len(l) == 0 {
			continue
		}
		start := len(buf)
		for _, p := range l {
			buf = append(buf, strings.TrimSpace(p))
		}
		out[i] = buf[start:len(buf):len(buf)] // capped: an append cannot spill into the next list
	}
	return &personv1.PersonName{
		GivenNames:    out[0],
		FamilyNames:   out[1],
		Patronymic:    strings.TrimSpace(n.GetPatronymic()),
		Matronymic:    strings.TrimSpace(n.GetMatronymic()),
		Prefixes:      out[2],
		Suffixes:      out[3],
		PreferredForm: strings.TrimSpace(n.GetPreferredForm()),
		Convention:    n.GetConvention(),
	}
}
