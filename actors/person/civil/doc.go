// Package civil compares and checks calendar dates ([personv1.Date]): dates
// without a time zone, as birth dates, death dates and attribute validity
// bounds are recorded.
//
// A nil *personv1.Date means "no date"; callers decide what that means (an
// open validity bound, an unset birth date). The functions here never
// mutate their arguments.
package civil
