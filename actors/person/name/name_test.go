package name_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/person/name"
	"github.com/cim/personrt/messages/personv1"
)

const (
	western    = personv1.NamingConvention_NAMING_CONVENTION_WESTERN
	spanish    = personv1.NamingConvention_NAMING_CONVENTION_SPANISH
	eastAsian  = personv1.NamingConvention_NAMING_CONVENTION_EAST_ASIAN
	patronymic = personv1.NamingConvention_NAMING_CONVENTION_PATRONYMIC
	mononymic  = personv1.NamingConvention_NAMING_CONVENTION_MONONYMIC
)

// forms lists the expected renderings in the order of name.Forms():
// formal, informal, legal, alphabetical, cultural.
type forms [5]string

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		in    string
		want  *personv1.PersonName
		forms forms
	}{
		{
			in:    "John Smith",
			want:  &personv1.PersonName{GivenNames: []string{"John"}, FamilyNames: []string{"Smith"}, Convention: western},
			forms: forms{"John Smith", "John", "Smith, John", "Smith, J.", "John Smith"},
		},
		{
			in:    "  Jane   Marie Smith ",
			want:  &personv1.PersonName{GivenNames: []string{"Jane", "Marie"}, FamilyNames: []string{"Smith"}, Convention: western},
			forms: forms{"Jane Marie Smith", "Jane", "Smith, Jane Marie", "Smith, J. M.", "Jane Marie Smith"},
		},
		{
			in: "Dr. Martin Luther King Jr.",
			want: &personv1.PersonName{Prefixes: []string{"Dr."}, GivenNames: []string{"Martin", "Luther"}, FamilyNames: []string{"King"},
				Suffixes: []string{"Jr."}, Convention: western},
			forms: forms{"Dr. Martin Luther King Jr.", "Martin", "King, Martin Luther, Jr.", "King, M. L.", "Martin Luther King"},
		},
		{
			in:    "Ludwig van Beethoven",
			want:  &personv1.PersonName{GivenNames: []string{"Ludwig"}, FamilyNames: []string{"van Beethoven"}, Convention: western},
			forms: forms{"Ludwig van Beethoven", "Ludwig", "van Beethoven, Ludwig", "van Beethoven, L.", "Ludwig van Beethoven"},
		},
		{
			in:    "Leonardo da Vinci",
			want:  &personv1.PersonName{GivenNames: []string{"Leonardo"}, FamilyNames: []string{"da Vinci"}, Convention: western},
			forms: forms{"Leonardo da Vinci", "Leonardo", "da Vinci, Leonardo", "da Vinci, L.", "Leonardo da Vinci"},
		},
		{
			in:    "Jean de La Fontaine",
			want:  &personv1.PersonName{GivenNames: []string{"Jean"}, FamilyNames: []string{"de La Fontaine"}, Convention: western},
			forms: forms{"Jean de La Fontaine", "Jean", "de La Fontaine, Jean", "de La Fontaine, J.", "Jean de La Fontaine"},
		},
		{
			in:    "José O'Brien",
			want:  &personv1.PersonName{GivenNames: []string{"José"}, FamilyNames: []string{"O'Brien"}, Convention: western},
			forms: forms{"José O'Brien", "José", "O'Brien, José", "O'Brien, J.", "José O'Brien"},
		},
		{
			in:    "John Johnson",
			want:  &personv1.PersonName{GivenNames: []string{"John"}, FamilyNames: []string{"Johnson"}, Convention: western},
			forms: forms{"John Johnson", "John", "Johnson, John", "Johnson, J.", "John Johnson"},
		},
		{
			in:    "Smith, Jane Marie",
			want:  &personv1.PersonName{GivenNames: []string{"Jane", "Marie"}, FamilyNames: []string{"Smith"}, Convention: western},
			forms: forms{"Jane Marie Smith", "Jane", "Smith, Jane Marie", "Smith, J. M.", "Jane Marie Smith"},
		},
		{
			in: "King, Martin Luther, Jr.",
			want: &personv1.PersonName{GivenNames: []string{"Martin", "Luther"}, FamilyNames: []string{"King"}, Suffixes: []string{"Jr."},
				Convention: western},
			forms: forms{"Martin Luther King Jr.", "Martin", "King, Martin Luther, Jr.", "King, M. L.", "Martin Luther King"},
		},
		{
			in: "Sammy Davis, Jr.",
			want: &personv1.PersonName{GivenNames: []string{"Sammy"}, FamilyNames: []string{"Davis"}, Suffixes: []string{"Jr."},
				Convention: western},
			forms: forms{"Sammy Davis Jr.", "Sammy", "Davis, Sammy, Jr.", "Davis, S.", "Sammy Davis"},
		},
		{
			in:    "Mr. Smith",
			want:  &personv1.PersonName{Prefixes: []string{"Mr."}, FamilyNames: []string{"Smith"}, Convention: western},
			forms: forms{"Mr. Smith", "Mr. Smith", "Smith", "Smith", "Smith"},
		},
		{
			in:    "Prince",
			want:  &personv1.PersonName{GivenNames: []string{"Prince"}, Convention: mononymic},
			forms: forms{"Prince", "Prince", "Prince", "Prince", "Prince"},
		},
		{
			in:    "Juan García y López",
			want:  &personv1.PersonName{GivenNames: []string{"Juan"}, FamilyNames: []string{"García", "López"}, Convention: spanish},
			forms: forms{"Juan García López", "Juan", "García López, Juan", "García López, J.", "Juan García y López"},
		},
		{
			in: "Juan Pablo de la Cruz Fernández",
			want: &personv1.PersonName{GivenNames: []string{"Juan", "Pablo"}, FamilyNames: []string{"de la Cruz", "Fernández"},
				Convention: spanish},
			forms: forms{"Juan Pablo de la Cruz Fernández", "Juan", "de la Cruz Fernández, Juan Pablo", "de la Cruz Fernández, J. P.",
				"Juan Pablo de la Cruz y Fernández"},
		},
		{
			in:    "Andrea del Sarto",
			want:  &personv1.PersonName{GivenNames: []string{"Andrea"}, FamilyNames: []string{"del Sarto"}, Convention: spanish},
			forms: forms{"Andrea del Sarto", "Andrea", "del Sarto, Andrea", "del Sarto, A.", "Andrea del Sarto"},
		},
		{
			in: "Pablo Diego José Francisco de Paula Juan Nepomuceno María de los Remedios Cipriano de la Santísima Trinidad Ruiz y Picasso",
			want: &personv1.PersonName{
				GivenNames: []string{"Pablo", "Diego", "José", "Francisco", "de Paula", "Juan", "Nepomuceno", "María",
					"de los Remedios", "Cipriano", "de la Santísima", "Trinidad"},
				FamilyNames: []string{"Ruiz", "Picasso"}, Convention: spanish},
			forms: forms{
				"Pablo Diego José Francisco de Paula Juan Nepomuceno María de los Remedios Cipriano de la Santísima Trinidad Ruiz Picasso",
				"Pablo",
				"Ruiz Picasso, Pablo Diego José Francisco de Paula Juan Nepomuceno María de los Remedios Cipriano de la Santísima Trinidad",
				"Ruiz Picasso, P. D. J. F. D. J. N. M. D. C. D. T.",
				"Pablo Diego José Francisco de Paula Juan Nepomuceno María de los Remedios Cipriano de la Santísima Trinidad Ruiz y Picasso",
			},
		},
		{
			in:    "李明",
			want:  &personv1.PersonName{FamilyNames: []string{"李"}, GivenNames: []string{"明"}, Convention: eastAsian},
			forms: forms{"李明", "明", "李明", "李明", "李明"},
		},
		{
			in:    "王小明",
			want:  &personv1.PersonName{FamilyNames: []string{"王"}, GivenNames: []string{"小明"}, Convention: eastAsian},
			forms: forms{"王小明", "小明", "王小明", "王小明", "王小明"},
		},
		{
			in:    "欧阳修",
			want:  &personv1.PersonName{FamilyNames: []string{"欧阳"}, GivenNames: []string{"修"}, Convention: eastAsian},
			forms: forms{"欧阳修", "修", "欧阳修", "欧阳修", "欧阳修"},
		},
		{
			in:    "山田太郎",
			want:  &personv1.PersonName{FamilyNames: []string{"山田"}, GivenNames: []string{"太郎"}, Convention: eastAsian},
			forms: forms{"山田太郎", "太郎", "山田太郎", "山田太郎", "山田太郎"},
		},
		{
			in:    "やまだ はなこ",
			want:  &personv1.PersonName{FamilyNames: []string{"やまだ"}, GivenNames: []string{"はなこ"}, Convention: eastAsian},
			forms: forms{"やまだはなこ", "はなこ", "やまだはなこ", "やまだはなこ", "やまだはなこ"},
		},
		{
			in:    "김민준",
			want:  &personv1.PersonName{FamilyNames: []string{"김"}, GivenNames: []string{"민준"}, Convention: eastAsian},
			forms: forms{"김민준", "민준", "김민준", "김민준", "김민준"},
		},
		{
			in:    "남궁민수",
			want:  &personv1.PersonName{FamilyNames: []string{"남궁"}, GivenNames: []string{"민수"}, Convention: eastAsian},
			forms: forms{"남궁민수", "민수", "남궁민수", "남궁민수", "남궁민수"},
		},
		{
			in:    "Ivan Petrovich Sidorov",
			want:  &personv1.PersonName{GivenNames: []string{"Ivan"}, Patronymic: "Petrovich", FamilyNames: []string{"Sidorov"}, Convention: patronymic},
			forms: forms{"Ivan Petrovich Sidorov", "Ivan", "Sidorov, Ivan Petrovich", "Sidorov, I. P.", "Ivan Petrovich Sidorov"},
		},
		{
			in:    "Сидоров Иван Петрович",
			want:  &personv1.PersonName{FamilyNames: []string{"Сидоров"}, GivenNames: []string{"Иван"}, Patronymic: "Петрович", Convention: patronymic},
			forms: forms{"Иван Петрович Сидоров", "Иван", "Сидоров, Иван Петрович", "Сидоров, И. П.", "Иван Петрович Сидоров"},
		},
		{
			in:    "Anna Sergeyevna",
			want:  &personv1.PersonName{GivenNames: []string{"Anna"}, Patronymic: "Sergeyevna", Convention: patronymic},
			forms: forms{"Anna Sergeyevna", "Anna", "Anna Sergeyevna", "Anna Sergeyevna", "Anna Sergeyevna"},
		},
		{
			in:    "Dmitri Shostakovich",
			want:  &personv1.PersonName{GivenNames: []string{"Dmitri"}, FamilyNames: []string{"Shostakovich"}, Convention: western},
			forms: forms{"Dmitri Shostakovich", "Dmitri", "Shostakovich, Dmitri", "Shostakovich, D.", "Dmitri Shostakovich"},
		},
		{
			in:    "Björk Guðmundsdóttir",
			want:  &personv1.PersonName{GivenNames: []string{"Björk"}, Patronymic: "Guðmundsdóttir", Convention: patronymic},
			forms: forms{"Björk Guðmundsdóttir", "Björk", "Björk Guðmundsdóttir", "Björk Guðmundsdóttir", "Björk Guðmundsdóttir"},
		},
		{
			in:    "Jón Einarsson",
			want:  &personv1.PersonName{GivenNames: []string{"Jón"}, Patronymic: "Einarsson", Convention: patronymic},
			forms: forms{"Jón Einarsson", "Jón", "Jón Einarsson", "Jón Einarsson", "Jón Einarsson"},
		},
		{
			in:    "Anna Larsson",
			want:  &personv1.PersonName{GivenNames: []string{"Anna"}, FamilyNames: []string{"Larsson"}, Convention: western},
			forms: forms{"Anna Larsson", "Anna", "Larsson, Anna", "Larsson, A.", "Anna Larsson"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := name.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !proto.Equal(got, tc.want) {
				t.Fatalf("Parse =\n %v\nwant\n %v", got, tc.want)
			}
			for i, f := range name.Forms() {
				if g := name.Format(got, f); g != tc.forms[i] {
					t.Errorf("Format(%s) = %q, want %q", f, g, tc.forms[i])
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in       string
		wantRule string
	}{
		{"", name.RuleEmpty},
		{"   \t ", name.RuleEmpty},
		{"John\x00Smith", name.RuleInvalidText},
		{"John \x7f", name.RuleInvalidText},
		{"bad \xff utf8", name.RuleInvalidText},
		{strings.Repeat("a", name.MaxPartRunes+1), name.RuleTooLong},
		{strings.Repeat("x ", name.MaxParts+2), name.RuleTooLong},
		{",", name.RuleGivenOrFamily},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			_, err := name.Parse(tc.in)
			assertRule(t, err, tc.wantRule)
		})
	}
}

func assertRule(t *testing.T, err error, wantRule string) {
	t.Helper()
	if !errors.Is(err, personv1.ErrInvalidArgument) {
		t.Fatalf("err = %v, want INVALID_ARGUMENT", err)
	}
	var e *personv1.Error
	if !errors.As(err, &e) || e.GetRule() != wantRule {
		t.Fatalf("err = %v, want rule %s", err, wantRule)
	}
}

func TestValidate(t *testing.T) {
	valid := func() *personv1.PersonName {
		return &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}, Convention: western}
	}
	tests := []struct {
		name     string
		mutate   func(*personv1.PersonName) *personv1.PersonName
		wantRule string // "" = valid
	}{
		{name: "valid", mutate: func(n *personv1.PersonName) *personv1.PersonName { return n }},
		{name: "family only", mutate: func(n *personv1.PersonName) *personv1.PersonName { n.GivenNames = nil; return n }},
		{name: "given only", mutate: func(n *personv1.PersonName) *personv1.PersonName { n.FamilyNames = nil; return n }},
		{name: "nil", mutate: func(*personv1.PersonName) *personv1.PersonName { return nil }, wantRule: name.RuleRequired},
		{name: "neither", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.GivenNames, n.FamilyNames, n.Patronymic = nil, nil, "Petrovich"
			return n
		}, wantRule: name.RuleGivenOrFamily},
		{name: "blank given", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.GivenNames = []string{"Ada", ""}
			return n
		}, wantRule: name.RuleBlankPart},
		{name: "whitespace family", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.FamilyNames = []string{"  "}
			return n
		}, wantRule: name.RuleBlankPart},
		{name: "untrimmed prefix", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.Prefixes = []string{" Dr."}
			return n
		}, wantRule: name.RuleBlankPart},
		{name: "blank suffix", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.Suffixes = []string{""}
			return n
		}, wantRule: name.RuleBlankPart},
		{name: "untrimmed patronymic", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.Patronymic = "Ivanovich "
			return n
		}, wantRule: name.RuleBlankPart},
		{name: "control char", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.PreferredForm = "A\nda"
			return n
		}, wantRule: name.RuleInvalidText},
		{name: "part too long", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.FamilyNames = []string{strings.Repeat("é", name.MaxPartRunes+1)}
			return n
		}, wantRule: name.RuleTooLong},
		{name: "part at the limit", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.FamilyNames = []string{strings.Repeat("é", name.MaxPartRunes)}
			return n
		}},
		{name: "too many given names", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.GivenNames = make([]string, name.MaxParts+1)
			for i := range n.GivenNames {
				n.GivenNames[i] = "A"
			}
			return n
		}, wantRule: name.RuleTooLong},
		{name: "unknown convention", mutate: func(n *personv1.PersonName) *personv1.PersonName {
			n.Convention = 42
			return n
		}, wantRule: name.RuleConvention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := name.Validate(tc.mutate(valid()))
			if tc.wantRule == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			assertRule(t, err, tc.wantRule)
		})
	}
}

func TestNormalize(t *testing.T) {
	in := &personv1.PersonName{
		GivenNames: []string{" Ada ", "  "}, FamilyNames: []string{"Lovelace\t"}, Patronymic: " P ",
		Prefixes: []string{" Lady"}, PreferredForm: " Ada ", Convention: western,
	}
	got := name.Normalize(in)
	want := &personv1.PersonName{
		GivenNames: []string{"Ada", ""}, FamilyNames: []string{"Lovelace"}, Patronymic: "P",
		Prefixes: []string{"Lady"}, PreferredForm: "Ada", Convention: western,
	}
	if !proto.Equal(got, want) {
		t.Fatalf("Normalize = %v, want %v", got, want)
	}
	got.GivenNames[0] = "changed"
	if in.GivenNames[0] != " Ada " {
		t.Error("Normalize aliases its input")
	}
	if name.Normalize(nil) != nil {
		t.Error("Normalize(nil) != nil")
	}
	assertRule(t, name.Validate(got), name.RuleBlankPart)
}

func TestFormatEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		n    *personv1.PersonName
		form name.Form
		want string
	}{
		{"nil", nil, name.Formal, ""},
		{"legal without given", &personv1.PersonName{FamilyNames: []string{"Smith"}}, name.Legal, "Smith"},
		{"legal without family", &personv1.PersonName{GivenNames: []string{"Cher"}}, name.Legal, "Cher"},
		{"legal never spaces a comma", &personv1.PersonName{GivenNames: []string{"Jane"}, FamilyNames: []string{"Smith"}}, name.Legal, "Smith, Jane"},
		{"preferred form", &personv1.PersonName{GivenNames: []string{"William"}, FamilyNames: []string{"Gates"}, PreferredForm: "Bill"}, name.Informal, "Bill"},
		{"informal patronymic only", &personv1.PersonName{FamilyNames: nil, Patronymic: "Petrovich"}, name.Informal, "Petrovich"},
		{"east asian latin script", &personv1.PersonName{FamilyNames: []string{"Yamada"}, GivenNames: []string{"Taro"}, Convention: eastAsian}, name.Formal, "Yamada Taro"},
		{"unspecified convention", &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}}, name.Cultural, "Ada Lovelace"},
		{"spanish three surnames", &personv1.PersonName{GivenNames: []string{"Ana"}, FamilyNames: []string{"A", "B", "C"}, Convention: spanish}, name.Cultural, "Ana A B C"},
		{"alphabetical lower-case initial", &personv1.PersonName{GivenNames: []string{"émile"}, FamilyNames: []string{"Zola"}}, name.Alphabetical, "Zola, É."},
		{"unknown form is formal", &personv1.PersonName{GivenNames: []string{"Ada"}}, name.Form(99), "Ada"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := name.Format(tc.n, tc.form); got != tc.want {
				t.Errorf("Format = %q, want %q", got, tc.want)
			}
		})
	}
	if got := name.Form(99).String(); got != "Form(99)" {
		t.Errorf("Form(99).String() = %q", got)
	}
}

// TestLegalRoundTrip: the legal form of a Western name parses back to it.
func TestLegalRoundTrip(t *testing.T) {
	for _, in := range []string{"Jane Marie Smith", "Ludwig van Beethoven", "Dr. Martin Luther King Jr.", "Sammy Davis Jr."} {
		n, err := name.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		n.Prefixes = nil // titles are not part of the legal form
		back, err := name.Parse(name.Format(n, name.Legal))
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(back, n) {
			t.Errorf("%q: legal %q parses to %v, want %v", in, name.Format(n, name.Legal), back, n)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"John Smith", "李明", "Juan García y López", "Ivan Petrovich Sidorov", "Smith, Jane, Jr.",
		"Prince", "Dr. Mr. X", "de la", ", ,", "Björk Guðmundsdóttir", "a y b", "x de la"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := name.Parse(s)
		if err != nil {
			var e *personv1.Error
			if !errors.As(err, &e) || e.GetRule() == "" {
				t.Fatalf("Parse(%q) error without a rule: %v", s, err)
			}
			return
		}
		if err := name.Validate(n); err != nil {
			t.Fatalf("Parse(%q) = %v, which fails Validate: %v", s, n, err)
		}
		for _, f := range name.Forms() {
			if out := name.Format(n, f); strings.TrimSpace(out) == "" || strings.Contains(out, " ,") || strings.Contains(out, "  ") {
				t.Fatalf("Format(Parse(%q), %s) = %q: blank or badly joined", s, f, out)
			}
		}
	})
}

func BenchmarkNameParse(b *testing.B) {
	inputs := []string{"Dr. Martin Luther King Jr.", "Ludwig van Beethoven", "Juan García y López", "李明", "Ivan Petrovich Sidorov"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := name.Parse(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func ExampleParse() {
	n, err := name.Parse("Juan García y López")
	if err != nil {
		panic(err)
	}
	fmt.Println(n.GetConvention())
	for _, f := range name.Forms() {
		fmt.Printf("%s: %s\n", f, name.Format(n, f))
	}
	// Output:
	// NAMING_CONVENTION_SPANISH
	// formal: Juan García López
	// informal: Juan
	// legal: García López, Juan
	// alphabetical: García López, J.
	// cultural: Juan García y López
}
