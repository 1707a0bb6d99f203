package name

import (
	"strings"
	"unicode"

	"github.com/cim/personrt/messages/personv1"
)

// Parse reads a free-text name, detects its naming convention (see the
// package documentation for the rules) and returns the structured name,
// which passes [Validate]. Blank input is rejected with [RuleEmpty].
func Parse(s string) (*personv1.PersonName, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, reject(RuleEmpty, "the name is blank")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return nil, reject(RuleInvalidText, "the name contains the character %U", r)
		}
	}
	var n *personv1.PersonName
	switch {
	case hasEastAsianScript(s):
		n = parseEastAsian(s)
	case strings.ContainsRune(s, ','):
		n = parseCommaForm(s)
	default:
		n = parseTokens(strings.Fields(s))
	}
	if err := Validate(n); err != nil {
		return nil, err
	}
	return n, nil
}

// parseTokens handles names without CJK letters and without a comma.
func parseTokens(tokens []string) *personv1.PersonName {
	if len(tokens) == 0 {
		return &personv1.PersonName{} // fails Validate
	}
	prefixes, tokens := splitTitles(tokens)
	tokens, suffixes := splitSuffixes(tokens)
	var n *personv1.PersonName
	switch {
	case len(tokens) == 1 && len(prefixes) == 0:
		n = &personv1.PersonName{GivenNames: tokens, Convention: personv1.NamingConvention_NAMING_CONVENTION_MONONYMIC}
	case len(tokens) == 1:
		n = &personv1.PersonName{FamilyNames: tokens, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
	case isSpanish(tokens):
		n = parseSpanish(tokens)
	default:
		if p := parsePatronymic(tokens); p != nil {
			n = p
		} else {
			n = parseWestern(tokens)
		}
	}
	n.Prefixes = prefixes
	n.Suffixes = suffixes
	return n
}

// titles are honorifics recognised at the start of a name.
var titles = map[string]bool{
	"dr": true, "dr.": true, "mr": true, "mr.": true, "mrs": true, "mrs.": true, "ms": true, "ms.": true,
	"miss": true, "mx": true, "mx.": true, "prof": true, "prof.": true, "sir": true, "dame": true,
	"lord": true, "lady": true, "rev": true, "rev.": true, "fr.": true, "hon.": true,
	"sr.": true, "sra.": true, "srta.": true, "don": true, "doña": true, "herr": true, "frau": true,
}

// suffixes are generational and academic suffixes recognised at the end.
var suffixWords = map[string]bool{
	"jr": true, "jr.": true, "sr": true, "sr.": true, "ii": true, "iii": true, "iv": true,
	"phd": true, "ph.d.": true, "md": true, "m.d.": true, "esq": true, "esq.": true,
}

// splitTitles moves leading titles to the prefixes, keeping at least one
// token.
func splitTitles(tokens []string) (prefixes, rest []string) {
	i := 0
	for i < len(tokens)-1 && isWord(titles, tokens[i]) {
		i++
	}
	if i == 0 {
		return nil, tokens
	}
	return append([]string(nil), tokens[:i]...), tokens[i:]
}

// splitSuffixes moves trailing suffixes (with a trailing comma stripped from
// the token before) to the suffixes, keeping at least one token.
func splitSuffixes(tokens []string) (rest, suffixes []string) {
	j := len(tokens)
	for j > 1 && isWord(suffixWords, tokens[j-1]) {
		j--
	}
	if j == len(tokens) {
		return tokens, nil
	}
	return tokens[:j], append([]string(nil), tokens[j:]...)
}

// particles are the lower-case surname particles kept in the family name.
var particles = map[string]bool{
	"van": true, "von": true, "der": true, "den": true, "de": true, "da": true, "di": true,
	"del": true, "della": true, "du": true, "le": true, "la": true, "ter": true, "ten": true,
	"dos": true, "das": true, "do": true, "bin": true, "ibn": true, "al": true, "zu": true,
	"af": true, "av": true, "op": true, "st.": true,
}

// parseWestern: given names first, then the family name with any particles
// before it ("Ludwig van Beethoven" → given Ludwig, family "van Beethoven").
func parseWestern(tokens []string) *personv1.PersonName {
	start := len(tokens) - 1
	for start > 1 && isWord(particles, tokens[start-1]) {
		start--
	}
	return &personv1.PersonName{
		GivenNames:  append([]string(nil), tokens[:start]...),
		FamilyNames: []string{strings.Join(tokens[start:], " ")},
		Convention:  personv1.NamingConvention_NAMING_CONVENTION_WESTERN,
	}
}

// spanishParticles join the next token into a compound ("de la Cruz").
var spanishParticles = map[string]bool{"de": true, "del": true, "la": true, "las": true, "los": true}

func isSpanish(tokens []string) bool {
	for i, t := range tokens {
		switch t {
		case "y", "del":
			if i > 0 && i < len(tokens)-1 {
				return true
			}
		case "de":
			if i > 0 && i < len(tokens)-2 {
				switch tokens[i+1] {
				case "la", "los", "las":
					return true
				}
			}
		}
	}
	return false
}

// parseSpanish groups particles with the following word, then takes the
// surnames around "y", or else the last two units (one when only two).
func parseSpanish(tokens []string) *personv1.PersonName {
	units := make([]string, 0, len(tokens))
	pending := ""
	for _, t := range tokens {
		if spanishParticles[t] {
			pending += t + " "
			continue
		}
		units = append(units, pending+t)
		pending = ""
	}
	if pending != "" {
		units = append(units, strings.TrimSpace(pending))
	}
	n := &personv1.PersonName{Convention: personv1.NamingConvention_NAMING_CONVENTION_SPANISH}
	for k := 1; k < len(units)-1; k++ {
		if units[k] == "y" {
			n.GivenNames = append([]string(nil), units[:k-1]...)
			n.FamilyNames = append([]string{units[k-1]}, units[k+1:]...)
			return n
		}
	}
	cut := len(units) - 2
	if len(units) <= 2 {
		cut = len(units) - 1
	}
	n.GivenNames = append([]string(nil), units[:cut]...)
	n.FamilyNames = append([]string(nil), units[cut:]...)
	return n
}

// Slavic patronymic endings, in lower case.
var (
	slavicPatronymic       = []string{"ovich", "evich", "ovna", "evna", "ichna", "ович", "евич", "овна", "евна", "ична"}
	slavicFemalePatronymic = []string{"ovna", "evna", "ichna", "овна", "евна", "ична"}
)

// hasSuffix reports whether s ends, ignoring case, in one of the endings
// and is longer than it.
func hasSuffix(s string, endings []string) bool {
	for _, e := range endings {
		if len(s) > len(e) && strings.EqualFold(s[len(s)-len(e):], e) {
			return true
		}
	}
	return false
}

// isWord looks s up in a set of lower-case words, ignoring ASCII case,
// without allocating.
func isWord(set map[string]bool, s string) bool {
	var buf [16]byte
	if len(s) > len(buf) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return set[string(buf[:len(s)])]
}

// parsePatronymic recognises "Given Patronymic Family", "Family Given
// Patronymic" (three tokens), "Given Patronymic" (female Slavic forms) and
// Icelandic "Given… Patronymic"; it returns nil for anything else.
func parsePatronymic(tokens []string) *personv1.PersonName {
	conv := personv1.NamingConvention_NAMING_CONVENTION_PATRONYMIC
	last := len(tokens) - 1
	if len(tokens) >= 3 {
		for i := 1; i < last; i++ {
			if hasSuffix(tokens[i], slavicPatronymic) {
				return &personv1.PersonName{
					GivenNames:  append([]string(nil), tokens[:i]...),
					Patronymic:  tokens[i],
					FamilyNames: append([]string(nil), tokens[i+1:]...),
					Convention:  conv,
				}
			}
		}
		if len(tokens) == 3 && hasSuffix(tokens[2], slavicPatronymic) {
			return &personv1.PersonName{
				FamilyNames: []string{tokens[0]}, GivenNames: []string{tokens[1]}, Patronymic: tokens[2], Convention: conv,
			}
		}
	}
	if len(tokens) == 2 && hasSuffix(tokens[1], slavicFemalePatronymic) || isIcelandicPatronymic(tokens) {
		return &personv1.PersonName{
			GivenNames: append([]string(nil), tokens[:last]...),
			Patronymic: tokens[last],
			Convention: conv,
		}
	}
	return nil
}

func isIcelandicPatronymic(tokens []string) bool {
	last := tokens[len(tokens)-1]
	if hasSuffix(last, []string{"dóttir", "dottir"}) {
		return true
	}
	if !hasSuffix(last, []string{"sson"}) {
		return false
	}
	for _, t := range tokens {
		if strings.ContainsAny(t, "ðþæöáéíóúýÐÞÆÖÁÉÍÓÚÝ") {
			return true
		}
	}
	return false
}

// parseCommaForm reads "Family, Given…[, Suffix…]", and "Given Family,
// Suffix" where everything after the first comma is a suffix.
func parseCommaForm(s string) *personv1.PersonName {
	parts := strings.Split(s, ",")
	head := strings.Fields(parts[0])
	var tail []string
	for _, p := range parts[1:] {
		tail = append(tail, strings.Fields(p)...)
	}
	if len(head) == 0 {
		return parseTokens(tail)
	}
	if len(tail) == 0 {
		return parseTokens(head)
	}
	allSuffixes := true
	for _, t := range tail {
		allSuffixes = allSuffixes && isWord(suffixWords, t)
	}
	if allSuffixes {
		n := parseTokens(head)
		n.Suffixes = append(n.Suffixes, tail...)
		return n
	}
	given := strings.Fields(parts[1])
	prefixes, given := splitTitles(given)
	var suffixes []string
	for _, p := range parts[2:] {
		suffixes = append(suffixes, strings.Fields(p)...)
	}
	given, more := splitSuffixes(given)
	suffixes = append(more, suffixes...)
	n := &personv1.PersonName{
		FamilyNames: []string{strings.Join(head, " ")},
		GivenNames:  given,
		Prefixes:    prefixes,
		Suffixes:    suffixes,
		Convention:  personv1.NamingConvention_NAMING_CONVENTION_WESTERN,
	}
	if len(given) == 0 {
		n.GivenNames = nil
	}
	return n
}

// hasEastAsianScript reports any Han, Hangul, Hiragana or Katakana letter.
func hasEastAsianScript(s string) bool {
	for _, r := range s {
		if isTight(r) {
			return true
		}
	}
	return false
}

// isTight reports letters of scripts written without spaces between family
// and given name.
func isTight(r rune) bool {
	if r < 0x1100 { // below Hangul Jamo: no Han, Hangul or kana
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana)
}

// compoundSurnames are common two-letter Chinese and Korean family names.
var compoundSurnames = map[string]bool{
	"欧阳": true, "歐陽": true, "司马": true, "司馬": true, "诸葛": true, "諸葛": true, "上官": true,
	"东方": true, "東方": true, "皇甫": true, "司徒": true, "慕容": true, "夏侯": true, "令狐": true,
	"南宫": true, "南宮": true, "西门": true, "西門": true, "尉迟": true, "公孙": true, "公孫": true,
	"남궁": true, "황보": true, "제갈": true, "사공": true, "선우": true, "독고": true,
}

// parseEastAsian puts the family name first: the first token when the name
// has spaces, else a known compound surname, else one letter for names of
// up to three letters and half the letters beyond.
func parseEastAsian(s string) *personv1.PersonName {
	conv := personv1.NamingConvention_NAMING_CONVENTION_EAST_ASIAN
	if tokens := strings.Fields(s); len(tokens) > 1 {
		return &personv1.PersonName{FamilyNames: tokens[:1], GivenNames: append([]string(nil), tokens[1:]...), Convention: conv}
	}
	runes := []rune(s)
	if len(runes) == 1 {
		return &personv1.PersonName{GivenNames: []string{s}, Convention: conv}
	}
	cut := 1
	switch {
	case len(runes) >= 3 && compoundSurnames[string(runes[:2])]:
		cut = 2
	case len(runes) >= 4:
		cut = len(runes) / 2
	}
	return &personv1.PersonName{
		FamilyNames: []string{string(runes[:cut])},
		GivenNames:  []string{string(runes[cut:])},
		Convention:  conv,
	}
}
