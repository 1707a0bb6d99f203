package attribute

import (
	"encoding/json"
	"math"
	"strings"
	"unicode"

	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/messages/personv1"
)

// Rule names of the errors returned by this package.
const (
	RuleRequired         = "attribute.required"          // no attribute given
	RuleType             = "attribute.type_unknown"      // type unspecified or outside the enum
	RuleCustomRequired   = "attribute.custom_required"   // CUSTOM without organisation, name or category
	RuleCustomUnexpected = "attribute.custom_unexpected" // custom set on a non-CUSTOM type
	RuleValueRequired    = "attribute.value_required"    // no value case set
	RuleValueType        = "attribute.value_type"        // the value kind does not fit the type
	RuleValueInvalid     = "attribute.value_invalid"     // the value is out of range or malformed
	RuleValidityDate     = "attribute.validity_date_invalid"
	RuleValidityOrder    = "attribute.validity_order" // valid_from after valid_until
	RuleProvenance       = "attribute.provenance_invalid"
)

// Limits on attribute values.
const (
	MaxTextLen   = 1024     // bytes of a text value or list item
	MaxListItems = 100      // items of a text list
	MaxJSONLen   = 64 << 10 // bytes of a JSON value
	MaxRefLen    = 128      // bytes of a location reference
	MaxHeightM   = 3.0      // metres
	MaxWeightKg  = 700.0    // kilograms
)

func reject(rule, format string, args ...any) *personv1.Error {
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, rule, format, args...)
}

// Validate checks the type, custom type, value, validity and provenance of
// a. It does not look at attribute_id, recorded_at or the invalidation
// fields, which belong to the aggregate.
func Validate(a *personv1.Attribute) error {
	if a == nil {
		return reject(RuleRequired, "an attribute is required")
	}
	if err := validateType(a); err != nil {
		return err
	}
	if err := ValidateValue(a.GetType(), a.GetValue()); err != nil {
		return err
	}
	if err := ValidateValidity(a.GetValidity()); err != nil {
		return err
	}
	return ValidateProvenance(a.GetProvenance())
}

func validateType(a *personv1.Attribute) error {
	if _, ok := Lookup(a.GetType()); !ok {
		return reject(RuleType, "attribute type %d is not a known type", a.GetType())
	}
	c := a.GetCustom()
	if a.GetType() != personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM {
		if c != nil {
			return reject(RuleCustomUnexpected, "custom is set on the non-custom type %s", TypeName(a.GetType()))
		}
		return nil
	}
	if c == nil || blank(c.GetOrganization()) || blank(c.GetName()) {
		return reject(RuleCustomRequired, "a custom attribute needs an organization and a name")
	}
	if _, ok := personv1.AttributeCategory_name[int32(c.GetCategory())]; !ok || c.GetCategory() == personv1.AttributeCategory_ATTRIBUTE_CATEGORY_UNSPECIFIED {
		return reject(RuleCustomRequired, "custom attribute %s/%s needs a category", c.GetOrganization(), c.GetName())
	}
	if err := checkText("custom.organization", c.GetOrganization(), MaxRefLen); err != nil {
		return err
	}
	return checkText("custom.name", c.GetName(), MaxRefLen)
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// ValidateValue checks that v is set, that its kind fits type t and that it
// is in range.
func ValidateValue(t personv1.AttributeType, v *personv1.AttributeValue) error {
	s, ok := Lookup(t)
	if !ok {
		return reject(RuleType, "attribute type %d is not a known type", t)
	}
	k := KindOf(v)
	if k == KindNone {
		return reject(RuleValueRequired, "a %s attribute needs a value", TypeName(t))
	}
	if !s.Accepts(k) || (k == KindJSON && t != personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM) {
		return reject(RuleValueType, "a %s attribute takes %s, not %s", TypeName(t), kindList(s.Values), k)
	}
	return checkValue(t, v)
}

func kindList(ks []ValueKind) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.String()
	}
	return strings.Join(names, " or ")
}

func checkValue(t personv1.AttributeType, v *personv1.AttributeValue) error {
	switch x := v.GetValue().(type) {
	case *personv1.AttributeValue_Text:
		return checkText("text", x.Text, MaxTextLen)
	case *personv1.AttributeValue_Number:
		return checkFinite("number", x.Number)
	case *personv1.AttributeValue_DateTime:
		if err := x.DateTime.CheckValid(); err != nil {
			return reject(RuleValueInvalid, "date_time: %v", err)
		}
	case *personv1.AttributeValue_Date:
		if !civil.Valid(x.Date) {
			return reject(RuleValueInvalid, "date %s is not a calendar date", civil.String(x.Date))
		}
	case *personv1.AttributeValue_YearMonth:
		if y, m := x.YearMonth.GetYear(), x.YearMonth.GetMonth(); y < 1 || y > 9999 || m < 1 || m > 12 {
			return reject(RuleValueInvalid, "year_month %d-%d is out of range", y, m)
		}
	case *personv1.AttributeValue_Year:
		if x.Year < 1 || x.Year > 9999 {
			return reject(RuleValueInvalid, "year %d is out of range", x.Year)
		}
	case *personv1.AttributeValue_ApproximateDate:
		p := x.ApproximateDate.GetPrecision()
		if _, ok := personv1.DatePrecision_name[int32(p)]; !ok || p == personv1.DatePrecision_DATE_PRECISION_UNSPECIFIED {
			return reject(RuleValueInvalid, "approximate_date needs a precision")
		}
		if !civil.Valid(x.ApproximateDate.GetDate()) {
			return reject(RuleValueInvalid, "approximate_date %s is not a calendar date", civil.String(x.ApproximateDate.GetDate()))
		}
	case *personv1.AttributeValue_Length:
		return checkPositive("length in metres", x.Length.GetMeters(), limitFor(t, MaxHeightM))
	case *personv1.AttributeValue_Mass:
		return checkPositive("mass in kilograms", x.Mass.GetKilograms(), limitFor(t, MaxWeightKg))
	case *personv1.AttributeValue_BloodType:
		return checkEnum("blood_type", personv1.BloodType_name, int32(x.BloodType))
	case *personv1.AttributeValue_BiologicalSex:
		return checkEnum("biological_sex", personv1.BiologicalSex_name, int32(x.BiologicalSex))
	case *personv1.AttributeValue_Handedness:
		return checkEnum("handedness", personv1.Handedness_name, int32(x.Handedness))
	case *personv1.AttributeValue_Color:
		return checkColor(x.Color)
	case *personv1.AttributeValue_LocationRef:
		return checkText("location_ref", x.LocationRef, MaxRefLen)
	case *personv1.AttributeValue_PersonRef:
		if !isUUID(x.PersonRef) {
			return reject(RuleValueInvalid, "person_ref %q is not a UUID", x.PersonRef)
		}
	case *personv1.AttributeValue_TextList:
		return checkList(x.TextList.GetItems())
	case *personv1.AttributeValue_Json:
		if len(x.Json) > MaxJSONLen || !json.Valid([]byte(x.Json)) {
			return reject(RuleValueInvalid, "json is not a JSON document of at most %d bytes", MaxJSONLen)
		}
	}
	return nil
}

// limitFor returns max for the built-in type it bounds, +Inf for custom.
func limitFor(t personv1.AttributeType, max float64) float64 {
	if t == personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM {
		return math.Inf(1)
	}
	return max
}

func checkFinite(what string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return reject(RuleValueInvalid, "%s must be a finite number", what)
	}
	return nil
}

func checkPositive(what string, f, max float64) error {
	if err := checkFinite(what, f); err != nil {
		return err
	}
	if f <= 0 || f > max {
		return reject(RuleValueInvalid, "%s %g is out of range (0, %g]", what, f, max)
	}
	return nil
}

func checkEnum(what string, names map[int32]string, v int32) error {
	if _, ok := names[v]; !ok || v == 0 {
		return reject(RuleValueInvalid, "%s %d is not a defined value", what, v)
	}
	return nil
}

func checkText(what, s string, max int) error {
	if blank(s) || strings.TrimSpace(s) != s {
		return reject(RuleValueInvalid, "%s is blank or has surrounding spaces", what)
	}
	if len(s) > max {
		return reject(RuleValueInvalid, "%s has %d bytes, at most %d allowed", what, len(s), max)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return reject(RuleValueInvalid, "%s contains the character %U", what, r)
		}
	}
	return nil
}

func checkList(items []string) error {
	if len(items) == 0 || len(items) > MaxListItems {
		return reject(RuleValueInvalid, "text_list needs 1 to %d items, got %d", MaxListItems, len(items))
	}
	for _, it := range items {
		if err := checkText("text_list item", it, MaxTextLen); err != nil {
			return err
		}
	}
	return nil
}

func checkColor(c string) error {
	if err := checkText("color", c, 32); err != nil {
		return err
	}
	for _, r := range c {
		if !unicode.IsLower(r) && r != ' ' && r != '-' {
			return reject(RuleValueInvalid, "color %q must be lower-case letters", c)
		}
	}
	return nil
}

// isUUID reports the canonical 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ValidateValidity checks that set bounds are calendar dates and that
// valid_from is not after valid_until. nil is valid (always holds).
func ValidateValidity(v *personv1.TemporalValidity) error {
	from, until := v.GetValidFrom(), v.GetValidUntil()
	if from != nil && !civil.Valid(from) {
		return reject(RuleValidityDate, "valid_from %s is not a calendar date", civil.String(from))
	}
	if until != nil && !civil.Valid(until) {
		return reject(RuleValidityDate, "valid_until %s is not a calendar date", civil.String(until))
	}
	if from != nil && until != nil && civil.Compare(from, until) > 0 {
		return reject(RuleValidityOrder, "valid_from %s is after valid_until %s", civil.String(from), civil.String(until))
	}
	return nil
}

// ValidateProvenance checks the enums, that imported_system is set exactly
// when the source is IMPORTED, and the transformation trace. nil is valid.
func ValidateProvenance(p *personv1.Provenance) error {
	if p == nil {
		return nil
	}
	if _, ok := personv1.ProvenanceSource_name[int32(p.GetSource())]; !ok {
		return reject(RuleProvenance, "unknown provenance source %d", p.GetSource())
	}
	if _, ok := personv1.Confidence_name[int32(p.GetConfidence())]; !ok {
		return reject(RuleProvenance, "unknown confidence %d", p.GetConfidence())
	}
	imported := p.GetSource() == personv1.ProvenanceSource_PROVENANCE_SOURCE_IMPORTED
	if imported == blank(p.GetImportedSystem()) {
		return reject(RuleProvenance, "imported_system must be set exactly when the source is IMPORTED")
	}
	for i, tr := range p.GetTrace() {
		if blank(tr.GetTransformation()) {
			return reject(RuleProvenance, "trace[%d] has no transformation", i)
		}
		if tr.GetAppliedAt() != nil && tr.GetAppliedAt().CheckValid() != nil {
			return reject(RuleProvenance, "trace[%d] has an invalid applied_at", i)
		}
	}
	return nil
}

// ValidOn reports whether a held on date d: d lies within its validity,
// both bounds inclusive. An invalidated attribute holds up to and including
// its valid_until.
func ValidOn(a *personv1.Attribute, d *personv1.Date) bool {
	v := a.GetValidity()
	return civil.Within(d, v.GetValidFrom(), v.GetValidUntil())
}
