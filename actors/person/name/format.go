package name

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cim/personrt/messages/personv1"
)

// Form is a way to display a name.
type Form uint8

// The display forms.
const (
	// Formal is the full name with titles and suffixes in the convention's
	// order: "Dr. Jane Marie Smith Jr.", "李明".
	Formal Form = iota
	// Informal is how to address the person: the preferred form, else the
	// first given name, else the title and family name ("Dr. Smith").
	Informal
	// Legal is "Family, Given Patronymic, Suffix" without titles, for
	// registers: "Smith, Jane Marie, Jr.". East Asian names in their own
	// script print family name first without a comma: "李明".
	Legal
	// Alphabetical is a sort key: "Smith, J. M."; names without a family
	// name sort by given name ("Björk Guðmundsdóttir").
	Alphabetical
	// Cultural is the name as its convention writes it, without titles:
	// "Juan García y López", "李明", "Ivan Petrovich Sidorov".
	Cultural
)

var formNames = [...]string{"formal", "informal", "legal", "alphabetical", "cultural"}

// String returns the lower-case name of f.
func (f Form) String() string {
	if int(f) < len(formNames) {
		return formNames[f]
	}
	return "Form(" + strconv.Itoa(int(f)) + ")"
}

// Forms lists every display form.
func Forms() []Form { return []Form{Formal, Informal, Legal, Alphabetical, Cultural} }

// Format renders n in form f. Empty parts are skipped, so the result never
// has doubled or dangling separators. A nil name renders as "".
func Format(n *personv1.PersonName, f Form) string {
	if n == nil {
		return ""
	}
	switch f {
	case Informal:
		return informal(n)
	case Legal:
		return legal(n)
	case Alphabetical:
		return alphabetical(n)
	case Cultural:
		return cultural(n)
	default:
		return formal(n)
	}
}

// words joins the non-empty parts with single spaces.
type words struct{ b strings.Builder }

func (w *words) add(parts ...string) {
	for _, p := range parts {
		if p == "" {
			continue
		}
		if w.b.Len() > 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(p)
	}
}

// String returns the joined words.
func (w *words) String() string { return w.b.String() }

func isEastAsian(n *personv1.PersonName) bool {
	return n.GetConvention() == personv1.NamingConvention_NAMING_CONVENTION_EAST_ASIAN
}

// familyFirst renders an East Asian name family name first, without a space
// when both parts are in a script written without one.
func familyFirst(n *personv1.PersonName) string {
	family := strings.Join(n.GetFamilyNames(), " ")
	given := strings.Join(n.GetGivenNames(), " ")
	if family != "" && given != "" && tight(family) && tight(given) {
		return family + given
	}
	var w words
	w.add(family, given)
	return w.String()
}

// tight reports whether every letter of s is Han, Hangul or kana.
func tight(s string) bool {
	for _, r := range s {
		if !isTight(r) {
			return false
		}
	}
	return true
}

func formal(n *personv1.PersonName) string {
	var w words
	w.add(n.GetPrefixes()...)
	if isEastAsian(n) {
		w.add(familyFirst(n))
	} else {
		w.add(n.GetGivenNames()...)
		w.add(n.GetPatronymic(), n.GetMatronymic())
		w.add(n.GetFamilyNames()...)
	}
	w.add(n.GetSuffixes()...)
	return w.String()
}

func informal(n *personv1.PersonName) string {
	switch {
	case n.GetPreferredForm() != "":
		return n.GetPreferredForm()
	case len(n.GetGivenNames()) > 0:
		return n.GetGivenNames()[0]
	}
	var w words
	if len(n.GetPrefixes()) > 0 {
		w.add(n.GetPrefixes()[0])
	}
	w.add(n.GetFamilyNames()...)
	if len(n.GetFamilyNames()) == 0 {
		w.add(n.GetPatronymic())
	}
	return w.String()
}

func legal(n *personv1.PersonName) string {
	if isEastAsian(n) {
		return familyFirst(n)
	}
	var family, rest words
	family.add(n.GetFamilyNames()...)
	rest.add(n.GetGivenNames()...)
	rest.add(n.GetPatronymic(), n.GetMatronymic())
	out := joinComma(family.String(), rest.String())
	var sfx words
	sfx.add(n.GetSuffixes()...)
	return joinComma(out, sfx.String())
}

// joinComma is "a, b", or whichever of them is non-empty.
func joinComma(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ", " + b
}

func alphabetical(n *personv1.PersonName) string {
	if isEastAsian(n) {
		return familyFirst(n)
	}
	if len(n.GetFamilyNames()) == 0 {
		var w words
		w.add(n.GetGivenNames()...)
		w.add(n.GetPatronymic(), n.GetMatronymic())
		return w.String()
	}
	var family, initials words
	family.add(n.GetFamilyNames()...)
	for _, g := range n.GetGivenNames() {
		initials.add(initial(g))
	}
	if p := n.GetPatronymic(); p != "" {
		initials.add(initial(p))
	}
	return joinComma(family.String(), initials.String())
}

// initial is the upper-cased first letter of s followed by a dot.
func initial(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + "."
}

func cultural(n *personv1.PersonName) string {
	var w words
	switch n.GetConvention() {
	case personv1.NamingConvention_NAMING_CONVENTION_EAST_ASIAN:
		return familyFirst(n)
	case personv1.NamingConvention_NAMING_CONVENTION_SPANISH:
		w.add(n.GetGivenNames()...)
		fam := n.GetFamilyNames()
		if len(fam) == 2 {
			w.add(fam[0], "y", fam[1])
		} else {
			w.add(fam...)
		}
		w.add(n.GetMatronymic())
	case personv1.NamingConvention_NAMING_CONVENTION_PATRONYMIC:
		w.add(n.GetGivenNames()...)
		w.add(n.GetPatronymic())
		w.add(n.GetFamilyNames()...)
	default:
		w.add(n.GetGivenNames()...)
		w.add(n.GetPatronymic(), n.GetMatronymic())
		w.add(n.GetFamilyNames()...)
	}
	return w.String()
}
