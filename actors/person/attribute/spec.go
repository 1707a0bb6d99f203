package attribute

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cim/personrt/messages/personv1"
)

// Spec is one row of the type table: the category of an attribute type and
// the value kinds it accepts.
type Spec struct {
	Type     personv1.AttributeType
	Category personv1.AttributeCategory
	Values   []ValueKind // accepted kinds; nil for CUSTOM (any kind)
}

// Accepts reports whether the type accepts values of kind k.
func (s Spec) Accepts(k ValueKind) bool {
	if s.Type == personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM {
		return k != KindNone
	}
	return slices.Contains(s.Values, k)
}

const (
	identifying = personv1.AttributeCategory_ATTRIBUTE_CATEGORY_IDENTIFYING
	physical    = personv1.AttributeCategory_ATTRIBUTE_CATEGORY_PHYSICAL
	healthcare  = personv1.AttributeCategory_ATTRIBUTE_CATEGORY_HEALTHCARE
	demographic = personv1.AttributeCategory_ATTRIBUTE_CATEGORY_DEMOGRAPHIC
	custom      = personv1.AttributeCategory_ATTRIBUTE_CATEGORY_CUSTOM
)

func spec(t personv1.AttributeType, c personv1.AttributeCategory, kinds ...ValueKind) Spec {
	return Spec{Type: t, Category: c, Values: kinds}
}

// table is the type table, in enum order.
var table = []Spec{
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_BIRTH_DATE_TIME, identifying, KindDateTime),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_BIRTH_PLACE, identifying, KindLocationRef, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_BIOLOGICAL_SEX, identifying, KindBiologicalSex),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_NATIONAL_ID, identifying, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_MOTHER_ID, identifying, KindPersonRef),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_FATHER_ID, identifying, KindPersonRef),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_APPROXIMATE_BIRTH_DATE, identifying, KindApproximateDate, KindYearMonth, KindYear),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT, physical, KindLength),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, physical, KindMass),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_EYE_COLOR, physical, KindColor),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_HAIR_COLOR, physical, KindColor),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_HANDEDNESS, physical, KindHandedness),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_DISTINGUISHING_MARKS, physical, KindText, KindTextList),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_BLOOD_TYPE, healthcare, KindBloodType),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_ALLERGIES, healthcare, KindTextList, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_CHRONIC_CONDITIONS, healthcare, KindTextList, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_MEDICATIONS, healthcare, KindTextList, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_MEDICAL_RECORD_NUMBER, healthcare, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_INSURANCE_ID, healthcare, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_ORGAN_DONOR, healthcare, KindBoolean),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_PREFERRED_LANGUAGE, demographic, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_SPOKEN_LANGUAGES, demographic, KindTextList),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_CITIZENSHIP, demographic, KindText, KindTextList),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_NATIONALITY, demographic, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_ETHNICITY, demographic, KindText),
	spec(personv1.AttributeType_ATTRIBUTE_TYPE_RELIGION, demographic, KindText),
	{Type: personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM, Category: custom},
}

// Specs returns a copy of the type table, in enum order.
func Specs() []Spec {
	out := make([]Spec, len(table))
	for i, s := range table {
		s.Values = slices.Clone(s.Values)
		out[i] = s
	}
	return out
}

// Lookup returns the table row of t; false for UNSPECIFIED and unknown
// values.
func Lookup(t personv1.AttributeType) (Spec, bool) {
	for _, s := range table {
		if s.Type == t {
			return s, true
		}
	}
	return Spec{}, false
}

// CategoryOf returns the category of a: the table's, or for a custom
// attribute the category it declares.
func CategoryOf(a *personv1.Attribute) personv1.AttributeCategory {
	if a.GetType() == personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM {
		return a.GetCustom().GetCategory()
	}
	s, _ := Lookup(a.GetType())
	return s.Category
}

// TypeName returns the short lower-case name of t ("height",
// "blood_type"), or the number of an unknown value.
func TypeName(t personv1.AttributeType) string {
	n, ok := personv1.AttributeType_name[int32(t)]
	if !ok {
		return strconv.Itoa(int(t))
	}
	return strings.ToLower(strings.TrimPrefix(n, "ATTRIBUTE_TYPE_"))
}
