package attribute_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/actors/person/attribute"
	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/messages/personv1"
)

// sample returns a valid value of kind k.
func sample(k attribute.ValueKind) *personv1.AttributeValue {
	switch k {
	case attribute.KindText:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Text{Text: "x"}}
	case attribute.KindNumber:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Number{Number: 1.5}}
	case attribute.KindInteger:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Integer{Integer: 7}}
	case attribute.KindBoolean:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Boolean{Boolean: true}}
	case attribute.KindDateTime:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_DateTime{DateTime: timestamppb.New(timestamppb.Now().AsTime())}}
	case attribute.KindDate:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Date{Date: civil.Date(1990, 1, 2)}}
	case attribute.KindYearMonth:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_YearMonth{YearMonth: &personv1.YearMonth{Year: 1990, Month: 3}}}
	case attribute.KindYear:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Year{Year: 1990}}
	case attribute.KindApproximateDate:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_ApproximateDate{ApproximateDate: &personv1.ApproximateDate{
			Date: civil.Date(1990, 1, 1), Precision: personv1.DatePrecision_DATE_PRECISION_DECADE}}}
	case attribute.KindLength:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Length{Length: &personv1.Length{Meters: 1.75}}}
	case attribute.KindMass:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Mass{Mass: &personv1.Mass{Kilograms: 70}}}
	case attribute.KindBloodType:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_BloodType{BloodType: personv1.BloodType_BLOOD_TYPE_O_NEGATIVE}}
	case attribute.KindColor:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Color{Color: "dark brown"}}
	case attribute.KindBiologicalSex:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_BiologicalSex{BiologicalSex: personv1.BiologicalSex_BIOLOGICAL_SEX_FEMALE}}
	case attribute.KindHandedness:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Handedness{Handedness: personv1.Handedness_HANDEDNESS_LEFT}}
	case attribute.KindLocationRef:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_LocationRef{LocationRef: "loc-1"}}
	case attribute.KindPersonRef:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_PersonRef{PersonRef: "0190d3a4-7b1c-7def-8abc-0123456789ab"}}
	case attribute.KindTextList:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_TextList{TextList: &personv1.TextList{Items: []string{"a", "b"}}}}
	case attribute.KindJSON:
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Json{Json: `{"a":1}`}}
	}
	return nil
}

var allKinds = func() []attribute.ValueKind {
	var ks []attribute.ValueKind
	for k := attribute.KindText; k <= attribute.KindJSON; k++ {
		ks = append(ks, k)
	}
	return ks
}()

// TestTypeTable walks every (type, kind) pair: a value is accepted exactly
// when the table lists its kind.
func TestTypeTable(t *testing.T) {
	specs := attribute.Specs()
	if got, want := len(specs), len(personv1.AttributeType_name)-1; got != want {
		t.Fatalf("table has %d types, the enum %d (without UNSPECIFIED)", got, want)
	}
	for _, s := range specs {
		for _, k := range allKinds {
			a := &personv1.Attribute{Type: s.Type, Value: sample(k)}
			if s.Type == personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM {
				a.Custom = &personv1.CustomAttributeType{Organization: "acme", Name: "shoe_size", Category: personv1.AttributeCategory_ATTRIBUTE_CATEGORY_PHYSICAL}
			}
			err := attribute.Validate(a)
			want := s.Accepts(k)
			if s.Type != personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM && k == attribute.KindJSON {
				want = false
			}
			if want && err != nil {
				t.Errorf("%s with %s: %v, want accepted", s.Type, k, err)
			}
			if !want {
				assertRule(t, err, attribute.RuleValueType)
			}
		}
		if s.Type != personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM && s.Category == personv1.AttributeCategory_ATTRIBUTE_CATEGORY_UNSPECIFIED {
			t.Errorf("%s has no category", s.Type)
		}
	}
}

func TestHeightIsALength(t *testing.T) {
	a := &personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT, Value: sample(attribute.KindText)}
	err := attribute.Validate(a)
	assertRule(t, err, attribute.RuleValueType)
	if !strings.Contains(err.Error(), "takes length, not text") {
		t.Errorf("message %q does not say what the type takes", err)
	}
}

func assertRule(t *testing.T, err error, wantRule string) {
	t.Helper()
	var e *personv1.Error
	if !errors.Is(err, personv1.ErrInvalidArgument) || !errors.As(err, &e) || e.GetRule() != wantRule {
		t.Fatalf("err = %v, want INVALID_ARGUMENT [%s]", err, wantRule)
	}
}

func TestValidateRejects(t *testing.T) {
	height := func(m float64) *personv1.AttributeValue {
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Length{Length: &personv1.Length{Meters: m}}}
	}
	typ := func(t personv1.AttributeType, v *personv1.AttributeValue) *personv1.Attribute {
		return &personv1.Attribute{Type: t, Value: v}
	}
	text := func(s string) *personv1.AttributeValue {
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Text{Text: s}}
	}
	const (
		heightT = personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT
		custom  = personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM
	)
	tests := []struct {
		name     string
		a        *personv1.Attribute
		wantRule string
	}{
		{"nil", nil, attribute.RuleRequired},
		{"unspecified type", typ(0, text("x")), attribute.RuleType},
		{"unknown type", typ(999, text("x")), attribute.RuleType},
		{"no value", typ(heightT, nil), attribute.RuleValueRequired},
		{"empty value", typ(heightT, &personv1.AttributeValue{}), attribute.RuleValueRequired},
		{"negative height", typ(heightT, height(-1)), attribute.RuleValueInvalid},
		{"zero height", typ(heightT, height(0)), attribute.RuleValueInvalid},
		{"NaN height", typ(heightT, height(math.NaN())), attribute.RuleValueInvalid},
		{"giant", typ(heightT, height(3.5)), attribute.RuleValueInvalid},
		{"heavy", typ(personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT, &personv1.AttributeValue{Value: &personv1.AttributeValue_Mass{Mass: &personv1.Mass{Kilograms: 701}}}), attribute.RuleValueInvalid},
		{"blank text", typ(personv1.AttributeType_ATTRIBUTE_TYPE_NATIONAL_ID, text(" ")), attribute.RuleValueInvalid},
		{"untrimmed text", typ(personv1.AttributeType_ATTRIBUTE_TYPE_NATIONAL_ID, text("123 ")), attribute.RuleValueInvalid},
		{"long text", typ(personv1.AttributeType_ATTRIBUTE_TYPE_NATIONAL_ID, text(strings.Repeat("1", attribute.MaxTextLen+1))), attribute.RuleValueInvalid},
		{"unspecified blood type", typ(personv1.AttributeType_ATTRIBUTE_TYPE_BLOOD_TYPE, &personv1.AttributeValue{Value: &personv1.AttributeValue_BloodType{}}), attribute.RuleValueInvalid},
		{"unknown blood type", typ(personv1.AttributeType_ATTRIBUTE_TYPE_BLOOD_TYPE, &personv1.AttributeValue{Value: &personv1.AttributeValue_BloodType{BloodType: 42}}), attribute.RuleValueInvalid},
		{"upper-case colour", typ(personv1.AttributeType_ATTRIBUTE_TYPE_EYE_COLOR, &personv1.AttributeValue{Value: &personv1.AttributeValue_Color{Color: "Blue"}}), attribute.RuleValueInvalid},
		{"bad person ref", typ(personv1.AttributeType_ATTRIBUTE_TYPE_MOTHER_ID, &personv1.AttributeValue{Value: &personv1.AttributeValue_PersonRef{PersonRef: "mum"}}), attribute.RuleValueInvalid},
		{"empty list", typ(personv1.AttributeType_ATTRIBUTE_TYPE_SPOKEN_LANGUAGES, &personv1.AttributeValue{Value: &personv1.AttributeValue_TextList{TextList: &personv1.TextList{}}}), attribute.RuleValueInvalid},
		{"blank list item", typ(personv1.AttributeType_ATTRIBUTE_TYPE_SPOKEN_LANGUAGES, &personv1.AttributeValue{Value: &personv1.AttributeValue_TextList{TextList: &personv1.TextList{Items: []string{"en", ""}}}}), attribute.RuleValueInvalid},
		{"approximate date without precision", typ(personv1.AttributeType_ATTRIBUTE_TYPE_APPROXIMATE_BIRTH_DATE, &personv1.AttributeValue{Value: &personv1.AttributeValue_ApproximateDate{ApproximateDate: &personv1.ApproximateDate{Date: civil.Date(1990, 1, 1)}}}), attribute.RuleValueInvalid},
		{"approximate date not a date", typ(personv1.AttributeType_ATTRIBUTE_TYPE_APPROXIMATE_BIRTH_DATE, &personv1.AttributeValue{Value: &personv1.AttributeValue_ApproximateDate{ApproximateDate: &personv1.ApproximateDate{Date: civil.Date(1990, 2, 30), Precision: personv1.DatePrecision_DATE_PRECISION_EXACT}}}), attribute.RuleValueInvalid},
		{"year month 13", typ(personv1.AttributeType_ATTRIBUTE_TYPE_APPROXIMATE_BIRTH_DATE, &personv1.AttributeValue{Value: &personv1.AttributeValue_YearMonth{YearMonth: &personv1.YearMonth{Year: 1990, Month: 13}}}), attribute.RuleValueInvalid},
		{"year 0", typ(personv1.AttributeType_ATTRIBUTE_TYPE_APPROXIMATE_BIRTH_DATE, &personv1.AttributeValue{Value: &personv1.AttributeValue_Year{}}), attribute.RuleValueInvalid},
		{"bad timestamp", typ(personv1.AttributeType_ATTRIBUTE_TYPE_BIRTH_DATE_TIME, &personv1.AttributeValue{Value: &personv1.AttributeValue_DateTime{DateTime: &timestamppb.Timestamp{Nanos: -1}}}), attribute.RuleValueInvalid},
		{"json on a built-in type", typ(personv1.AttributeType_ATTRIBUTE_TYPE_RELIGION, sample(attribute.KindJSON)), attribute.RuleValueType},
		{"custom without custom", typ(custom, text("x")), attribute.RuleCustomRequired},
		{"custom without category", &personv1.Attribute{Type: custom, Value: text("x"), Custom: &personv1.CustomAttributeType{Organization: "o", Name: "n"}}, attribute.RuleCustomRequired},
		{"custom blank name", &personv1.Attribute{Type: custom, Value: text("x"), Custom: &personv1.CustomAttributeType{Organization: "o", Name: " ", Category: 1}}, attribute.RuleCustomRequired},
		{"custom bad json", &personv1.Attribute{Type: custom, Value: &personv1.AttributeValue{Value: &personv1.AttributeValue_Json{Json: "{"}}, Custom: &personv1.CustomAttributeType{Organization: "o", Name: "n", Category: 5}}, attribute.RuleValueInvalid},
		{"custom on built-in", &personv1.Attribute{Type: heightT, Value: height(1.8), Custom: &personv1.CustomAttributeType{Organization: "o", Name: "n", Category: 2}}, attribute.RuleCustomUnexpected},
		{"validity from after until", &personv1.Attribute{Type: heightT, Value: height(1.8), Validity: &personv1.TemporalValidity{ValidFrom: civil.Date(2021, 1, 1), ValidUntil: civil.Date(2020, 1, 1)}}, attribute.RuleValidityOrder},
		{"validity bad date", &personv1.Attribute{Type: heightT, Value: height(1.8), Validity: &personv1.TemporalValidity{ValidFrom: civil.Date(2021, 2, 30)}}, attribute.RuleValidityDate},
		{"imported without system", &personv1.Attribute{Type: heightT, Value: height(1.8), Provenance: &personv1.Provenance{Source: personv1.ProvenanceSource_PROVENANCE_SOURCE_IMPORTED}}, attribute.RuleProvenance},
		{"system without import", &personv1.Attribute{Type: heightT, Value: height(1.8), Provenance: &personv1.Provenance{Source: personv1.ProvenanceSource_PROVENANCE_SOURCE_MEASURED, ImportedSystem: "ehr"}}, attribute.RuleProvenance},
		{"unknown confidence", &personv1.Attribute{Type: heightT, Value: height(1.8), Provenance: &personv1.Provenance{Confidence: 9}}, attribute.RuleProvenance},
		{"blank trace", &personv1.Attribute{Type: heightT, Value: height(1.8), Provenance: &personv1.Provenance{Trace: []*personv1.TransformationTrace{{}}}}, attribute.RuleProvenance},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertRule(t, attribute.Validate(tc.a), tc.wantRule)
		})
	}
}

func TestValidateAcceptsFullAttribute(t *testing.T) {
	a := &personv1.Attribute{
		Type:     personv1.AttributeType_ATTRIBUTE_TYPE_WEIGHT,
		Value:    sample(attribute.KindMass),
		Validity: &personv1.TemporalValidity{ValidFrom: civil.Date(2020, 1, 1), ValidUntil: civil.Date(2020, 1, 1)},
		Provenance: &personv1.Provenance{
			Source: personv1.ProvenanceSource_PROVENANCE_SOURCE_IMPORTED, ImportedSystem: "ehr", Confidence: personv1.Confidence_CONFIDENCE_LIKELY,
			RecordedBy: "nurse", Trace: []*personv1.TransformationTrace{{Transformation: "lb→kg", AppliedBy: "etl"}},
		},
	}
	if err := attribute.Validate(a); err != nil {
		t.Fatal(err)
	}
}

func TestCategoryOf(t *testing.T) {
	tests := []struct {
		a    *personv1.Attribute
		want personv1.AttributeCategory
	}{
		{&personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_BLOOD_TYPE}, personv1.AttributeCategory_ATTRIBUTE_CATEGORY_HEALTHCARE},
		{&personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT}, personv1.AttributeCategory_ATTRIBUTE_CATEGORY_PHYSICAL},
		{&personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_NATIONAL_ID}, personv1.AttributeCategory_ATTRIBUTE_CATEGORY_IDENTIFYING},
		{&personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_RELIGION}, personv1.AttributeCategory_ATTRIBUTE_CATEGORY_DEMOGRAPHIC},
		{&personv1.Attribute{Type: personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM, Custom: &personv1.CustomAttributeType{Category: personv1.AttributeCategory_ATTRIBUTE_CATEGORY_HEALTHCARE}}, personv1.AttributeCategory_ATTRIBUTE_CATEGORY_HEALTHCARE},
		{&personv1.Attribute{}, personv1.AttributeCategory_ATTRIBUTE_CATEGORY_UNSPECIFIED},
	}
	for _, tc := range tests {
		if got := attribute.CategoryOf(tc.a); got != tc.want {
			t.Errorf("CategoryOf(%s) = %s, want %s", tc.a.GetType(), got, tc.want)
		}
	}
}

func TestValidOn(t *testing.T) {
	a := &personv1.Attribute{Validity: &personv1.TemporalValidity{ValidFrom: civil.Date(2020, 1, 1), ValidUntil: civil.Date(2020, 12, 31)}}
	tests := []struct {
		d    *personv1.Date
		want bool
	}{
		{civil.Date(2019, 12, 31), false},
		{civil.Date(2020, 1, 1), true},
		{civil.Date(2020, 6, 15), true},
		{civil.Date(2020, 12, 31), true},
		{civil.Date(2021, 1, 1), false},
	}
	for _, tc := range tests {
		if got := attribute.ValidOn(a, tc.d); got != tc.want {
			t.Errorf("ValidOn(%s) = %v, want %v", civil.String(tc.d), got, tc.want)
		}
	}
	if !attribute.ValidOn(&personv1.Attribute{}, civil.Date(1, 1, 1)) {
		t.Error("an attribute without validity does not always hold")
	}
}

func TestKindNames(t *testing.T) {
	for _, k := range allKinds {
		if attribute.KindOf(sample(k)) != k {
			t.Errorf("KindOf(sample(%s)) = %s", k, attribute.KindOf(sample(k)))
		}
	}
	if attribute.TypeName(personv1.AttributeType_ATTRIBUTE_TYPE_BLOOD_TYPE) != "blood_type" || attribute.TypeName(7777) != "7777" {
		t.Error("TypeName wrong")
	}
	if attribute.KindOf(nil) != attribute.KindNone || attribute.ValueKind(200).String() != "unknown" {
		t.Error("KindOf(nil) or unknown name wrong")
	}
	// Specs returns a copy.
	s := attribute.Specs()
	s[0].Values[0] = attribute.KindJSON
	if spec, _ := attribute.Lookup(s[0].Type); spec.Values[0] == attribute.KindJSON {
		t.Error("Specs aliases the table")
	}
}

func ExampleValidate() {
	height := &personv1.Attribute{
		Type:  personv1.AttributeType_ATTRIBUTE_TYPE_HEIGHT,
		Value: &personv1.AttributeValue{Value: &personv1.AttributeValue_Text{Text: "tall"}},
	}
	fmt.Println(attribute.Validate(height))
	// Output:
	// INVALID_ARGUMENT [attribute.value_type]: a height attribute takes length, not text
}
