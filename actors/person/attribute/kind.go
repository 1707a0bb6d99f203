package attribute

import "github.com/cim/personrt/messages/personv1"

// ValueKind is the case set in a [personv1.AttributeValue].
type ValueKind uint8

// The value kinds, one per case of the AttributeValue oneof.
const (
	KindNone ValueKind = iota // no value set
	KindText
	KindNumber
	KindInteger
	KindBoolean
	KindDateTime
	KindDate
	KindYearMonth
	KindYear
	KindApproximateDate
	KindLength
	KindMass
	KindBloodType
	KindColor
	KindBiologicalSex
	KindHandedness
	KindLocationRef
	KindPersonRef
	KindTextList
	KindJSON
)

var kindNames = [...]string{
	"none", "text", "number", "integer", "boolean", "date_time", "date", "year_month", "year",
	"approximate_date", "length", "mass", "blood_type", "color", "biological_sex", "handedness",
	"location_ref", "person_ref", "text_list", "json",
}

// String returns the proto field name of the kind ("length").
func (k ValueKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// KindOf returns the kind of the case set in v; KindNone for nil or unset.
func KindOf(v *personv1.AttributeValue) ValueKind {
	switch v.GetValue().(type) {
	case *personv1.AttributeValue_Text:
		return KindText
	case *personv1.AttributeValue_Number:
		return KindNumber
	case *personv1.AttributeValue_Integer:
		return KindInteger
	case *personv1.AttributeValue_Boolean:
		return KindBoolean
	case *personv1.AttributeValue_DateTime:
		return KindDateTime
	case *personv1.AttributeValue_Date:
		return KindDate
	case *personv1.AttributeValue_YearMonth:
		return KindYearMonth
	case *personv1.AttributeValue_Year:
		return KindYear
	case *personv1.AttributeValue_ApproximateDate:
		return KindApproximateDate
	case *personv1.AttributeValue_Length:
		return KindLength
	case *personv1.AttributeValue_Mass:
		return KindMass
	case *personv1.AttributeValue_BloodType:
		return KindBloodType
	case *personv1.AttributeValue_Color:
		return KindColor
	case *personv1.AttributeValue_BiologicalSex:
		return KindBiologicalSex
	case *personv1.AttributeValue_Handedness:
		return KindHandedness
	case *personv1.AttributeValue_LocationRef:
		return KindLocationRef
	case *personv1.AttributeValue_PersonRef:
		return KindPersonRef
	case *personv1.AttributeValue_TextList:
		return KindTextList
	case *personv1.AttributeValue_Json:
		return KindJSON
	default:
		return KindNone
	}
}
