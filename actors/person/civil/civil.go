package civil

import (
	"fmt"
	"time"

	"github.com/cim/personrt/messages/personv1"
)

// Valid reports whether d is a real date of the proleptic Gregorian calendar
// between the years 1 and 9999. nil is not valid.
func Valid(d *personv1.Date) bool {
	if d == nil || d.GetYear() < 1 || d.GetYear() > 9999 || d.GetMonth() < 1 || d.GetMonth() > 12 || d.GetDay() < 1 {
		return false
	}
	return d.GetDay() <= daysIn(d.GetYear(), d.GetMonth())
}

func daysIn(year, month int32) int32 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}

// Of returns the UTC calendar date of t.
func Of(t time.Time) *personv1.Date {
	y, m, d := t.UTC().Date()
	return &personv1.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

// Compare returns -1, 0 or +1 as a is before, equal to or after b. Both must
// be non-nil.
func Compare(a, b *personv1.Date) int {
	switch {
	case a.GetYear() != b.GetYear():
		return cmp(a.GetYear(), b.GetYear())
	case a.GetMonth() != b.GetMonth():
		return cmp(a.GetMonth(), b.GetMonth())
	default:
		return cmp(a.GetDay(), b.GetDay())
	}
}

func cmp(a, b int32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// After reports whether d is later than the UTC calendar date of now: a date
// "in the future". It does not allocate.
func After(d *personv1.Date, now time.Time) bool {
	y, m, day := now.UTC().Date()
	today := personv1.Date{Year: int32(y), Month: int32(m), Day: int32(day)}
	return Compare(d, &today) > 0
}

// Within reports whether d lies in the inclusive range [from, until]; a nil
// bound is open.
func Within(d, from, until *personv1.Date) bool {
	if from != nil && Compare(d, from) < 0 {
		return false
	}
	return until == nil || Compare(d, until) <= 0
}

// String formats d as YYYY-MM-DD, or "<nil>".
func String(d *personv1.Date) string {
	if d == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}

// Clone returns a copy of d (nil for nil).
func Clone(d *personv1.Date) *personv1.Date {
	if d == nil {
		return nil
	}
	return &personv1.Date{Year: d.GetYear(), Month: d.GetMonth(), Day: d.GetDay()}
}

// Date is a shorthand constructor for tests and examples.
func Date(year, month, day int32) *personv1.Date {
	return &personv1.Date{Year: year, Month: month, Day: day}
}
