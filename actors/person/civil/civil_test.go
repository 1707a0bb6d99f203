package civil_test

import (
	"testing"
	"time"

	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/messages/personv1"
)

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		d    *personv1.Date
		want bool
	}{
		{"nil", nil, false},
		{"ordinary", civil.Date(1990, 5, 17), true},
		{"leap day 2000", civil.Date(2000, 2, 29), true},
		{"no leap day 1900", civil.Date(1900, 2, 29), false},
		{"leap day 2024", civil.Date(2024, 2, 29), true},
		{"no leap day 2023", civil.Date(2023, 2, 29), false},
		{"april 31", civil.Date(2020, 4, 31), false},
		{"month 13", civil.Date(2020, 13, 1), false},
		{"day 0", civil.Date(2020, 1, 0), false},
		{"year 0", civil.Date(0, 1, 1), false},
		{"year 10000", civil.Date(10000, 1, 1), false},
		{"zero", &personv1.Date{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := civil.Valid(tc.d); got != tc.want {
				t.Errorf("Valid(%s) = %v, want %v", civil.String(tc.d), got, tc.want)
			}
		})
	}
}

func TestCompareAndWithin(t *testing.T) {
	a, b := civil.Date(2020, 1, 31), civil.Date(2020, 2, 1)
	if civil.Compare(a, b) != -1 || civil.Compare(b, a) != 1 || civil.Compare(a, civil.Clone(a)) != 0 {
		t.Error("Compare wrong")
	}
	if civil.Compare(civil.Date(2019, 12, 31), a) != -1 || civil.Compare(civil.Date(2020, 1, 30), a) != -1 {
		t.Error("Compare wrong across year or day")
	}
	tests := []struct {
		name        string
		d, from, to *personv1.Date
		want        bool
	}{
		{"open", a, nil, nil, true},
		{"on from", a, a, nil, true},
		{"on until", b, nil, b, true},
		{"before from", a, b, nil, false},
		{"after until", b, nil, a, false},
		{"inside", civil.Date(2020, 1, 15), civil.Date(2020, 1, 1), a, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := civil.Within(tc.d, tc.from, tc.to); got != tc.want {
				t.Errorf("Within = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOfAndAfter(t *testing.T) {
	// 23:30 in UTC-5 is already the next day in UTC.
	now := time.Date(2024, 3, 9, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))
	if got, want := civil.String(civil.Of(now)), "2024-03-10"; got != want {
		t.Errorf("Of = %s, want %s", got, want)
	}
	if civil.After(civil.Date(2024, 3, 10), now) || !civil.After(civil.Date(2024, 3, 11), now) {
		t.Error("After wrong at the day boundary")
	}
	if civil.Clone(nil) != nil || civil.String(nil) != "<nil>" {
		t.Error("nil handling wrong")
	}
}
