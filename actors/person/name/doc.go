// Package name validates, parses and displays structured person names
// ([personv1.PersonName]).
//
// # Validation
//
// [Validate] requires at least one given or family name, no blank or
// untrimmed part, no control characters, bounded lengths and a known
// [personv1.NamingConvention]. [Normalize] trims every part and returns a
// fresh copy, so a name stored from a command never aliases the command.
//
// # Parsing
//
// [Parse] turns free text into a PersonName and detects its convention:
//
//  1. any Han, Hangul, Hiragana or Katakana letter: EastAsian, family name
//     first (a space separates family from given names when present;
//     otherwise the known two-letter surnames such as 欧阳 or 남궁, else one
//     letter for up to three letters and half the letters beyond);
//  2. "Family, Given[, Suffix]": Western, the legal form printed back;
//  3. after leading titles ("Dr.", "Sir") and trailing suffixes ("Jr.",
//     "III", "PhD") are set aside, a single token: Mononymic (or a family
//     name when a title precedes it: "Mr. Smith");
//  4. the Spanish connectors "y", "del", "de la", "de los", "de las":
//     Spanish, with compound surnames ("de la Cruz") kept together and the
//     last two surnames (or the ones around "y") as family names;
//  5. a Slavic patronymic (-ovich, -evich, -ovna, -evna, -ichna and their
//     Cyrillic forms) or an Icelandic one (-dóttir, or -sson in a name with
//     Icelandic letters): Patronymic;
//  6. otherwise Western, with lower-case particles ("van", "de", "da", "von
//     der") kept in the family name: "van Beethoven".
//
// Unlike the original system, -son and -sen alone are not taken for
// patronymics ("Johnson" is a family name), and particles are not moved to
// the prefixes, so no form prints "van Ludwig Beethoven".
//
// # Display
//
// [Format] renders the forms of [Form]: Formal, Informal, Legal ("Smith,
// Jane Marie", never "Smith , Jane"), Alphabetical ("Smith, J. M.") and
// Cultural (the convention's own order: "Juan García y López", "李明",
// "Ivan Petrovich Sidorov").
package name
