package ctl

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cim/personrt/actors/person/name"
	"github.com/cim/personrt/messages/personv1"
)

// specs lists the commands in the order personctl --help shows them.
func specs() []spec {
	return []spec{
		{name: "create", args: "[person-id] --name NAME | --given G --family F [flags]", about: "create a person (a new UUIDv7 id when none is given)", bind: bindCreate},
		{name: "rename", args: "<person-id> --name NAME | --given G --family F [--reason R]", about: "replace a person's name", bind: bindRename},
		{name: "set-birth-date", args: "<person-id> <YYYY-MM-DD>", about: "set the birth date (once)", bind: dateCommand(func(d *personv1.Date) *personv1.Command {
			return &personv1.Command{Body: &personv1.Command_SetBirthDate{SetBirthDate: &personv1.SetBirthDate{BirthDate: d}}}
		})},
		{name: "record-death", args: "<person-id> <YYYY-MM-DD>", about: "record the date of death (terminal)", bind: dateCommand(func(d *personv1.Date) *personv1.Command {
			return &personv1.Command{Body: &personv1.Command_RecordDeath{RecordDeath: &personv1.RecordDeath{DateOfDeath: d}}}
		})},
		{name: "deactivate", args: "<person-id> --reason R", about: "suspend an active person", bind: reasonCommand(func(r string) *personv1.Command {
			return &personv1.Command{Body: &personv1.Command_DeactivatePerson{DeactivatePerson: &personv1.DeactivatePerson{Reason: r}}}
		})},
		{name: "reactivate", args: "<person-id> [--reason R]", about: "bring a deactivated person back", bind: reasonCommand(func(r string) *personv1.Command {
			return &personv1.Command{Body: &personv1.Command_ReactivatePerson{ReactivatePerson: &personv1.ReactivatePerson{Reason: r}}}
		})},
		{name: "merge", args: "<person-id> <target-person-id> [--reason REASON]", about: "merge a person into another one (terminal for the first)", bind: bindMerge},
		{name: "archive", args: "<person-id> --reason R", about: "archive a person (terminal)", bind: reasonCommand(func(r string) *personv1.Command {
			return &personv1.Command{Body: &personv1.Command_ArchivePerson{ArchivePerson: &personv1.ArchivePerson{Reason: r}}}
		})},
		{name: "attribute add", args: "<person-id> --type TYPE --value VALUE [flags]", about: "record an attribute (height, blood-type, national-id, custom, …)", bind: bindAttributeAdd},
		{name: "attribute update", args: "<person-id> <attribute-id> --value VALUE [flags]", about: "replace an attribute's value", bind: bindAttributeUpdate},
		{name: "attribute invalidate", args: "<person-id> <attribute-id> [--reason R] [--valid-until D]", about: "end an attribute's validity", bind: bindAttributeInvalidate},
		{name: "contact add", args: "<person-id> --email E | --phone P [flags]", about: "add an email address or phone number", bind: bindContactAdd},
		{name: "contact remove", args: "<person-id> <contact-id> [--reason R]", about: "remove a contact", bind: bindContactRemove},
		{name: "contact verify", args: "<person-id> <contact-id>", about: "mark a contact verified", bind: bindContactVerify},
		{name: "get", args: "<person-id>", about: "print a person's current state", bind: bindGet},
		{name: "history", args: "<person-id> [--from VERSION]", about: "print a person's stored events", bind: bindHistory},
		{name: "watch", args: "<person-id> [--from VERSION]", about: "print a person's events as they are stored, until Ctrl-C", bind: bindWatch},
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// args checks the number of positional arguments.
func wantArgs(args []string, n int, what string) error {
	if len(args) != n {
		return usagef("want %s, got %d argument(s)", what, len(args))
	}
	return nil
}

// execute completes cmd's envelope for personID, sends it and prints its
// result.
func execute(ctx context.Context, e *env, personID string, cmd *personv1.Command) error {
	if err := e.envelope(personID, cmd); err != nil {
		return err
	}
	ctx, cancel := e.call(ctx)
	defer cancel()
	res, err := e.client.Execute(ctx, cmd)
	if err != nil {
		return err
	}
	printResult(e, cmd, res)
	return nil
}

// nameFlags are the flags that make a PersonName.
type nameFlags struct {
	free                              string
	given, family, prefixes, suffixes stringList
	patronymic, matronymic, preferred string
	convention                        string
}

func (n *nameFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&n.free, "name", "", `the name as free text, parsed with its convention detected ("Ada Lovelace", "García y López, Juan", "李明")`)
	fs.Var(&n.given, "given", "a given name (repeatable), instead of --name")
	fs.Var(&n.family, "family", "a family name (repeatable), instead of --name")
	fs.Var(&n.prefixes, "title", `a title such as "Dr." (repeatable)`)
	fs.Var(&n.suffixes, "suffix", `a suffix such as "Jr." (repeatable)`)
	fs.StringVar(&n.patronymic, "patronymic", "", "patronymic")
	fs.StringVar(&n.matronymic, "matronymic", "", "matronymic")
	fs.StringVar(&n.preferred, "preferred", "", "how the person wants to be addressed")
	fs.StringVar(&n.convention, "convention", "western", "naming convention with --given/--family: western, spanish, east-asian, patronymic, mononymic")
}

func (n *nameFlags) name() (*personv1.PersonName, error) {
	structured := len(n.given) > 0 || len(n.family) > 0
	switch {
	case n.free != "" && structured:
		return nil, usagef("give either --name or --given/--family, not both")
	case n.free != "":
		p, err := name.Parse(n.free)
		if err != nil {
			return nil, err // a coded INVALID_ARGUMENT naming the rule
		}
		n.decorate(p)
		return p, nil
	case structured:
		conv, err := parseEnum[personv1.NamingConvention](n.convention, "NAMING_CONVENTION_", personv1.NamingConvention_value)
		if err != nil {
			return nil, err
		}
		p := &personv1.PersonName{GivenNames: n.given, FamilyNames: n.family, Patronymic: n.patronymic, Matronymic: n.matronymic, Convention: conv}
		n.decorate(p)
		return p, nil
	}
	return nil, usagef("a name is required: --name or --given/--family")
}

func (n *nameFlags) decorate(p *personv1.PersonName) {
	p.Prefixes = append(p.Prefixes, n.prefixes...)
	p.Suffixes = append(p.Suffixes, n.suffixes...)
	if n.preferred != "" {
		p.PreferredForm = n.preferred
	}
}

func bindCreate(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var (
		n                  nameFlags
		birth, region, src string
		emails, phones     stringList
	)
	n.bind(fs)
	fs.StringVar(&birth, "birth-date", "", "birth date YYYY-MM-DD")
	fs.Var(&emails, "email", "an email address (repeatable; the first is primary)")
	fs.Var(&phones, "phone", "a phone number (repeatable; the first is primary)")
	fs.StringVar(&region, "region", "", `ISO 3166 region of phone numbers without +country, e.g. "GB"`)
	fs.StringVar(&src, "source", "personctl", "the system or channel that created the person")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 1 {
			return usagef("want at most a person id, got %d arguments", len(args))
		}
		id := ""
		if len(args) == 1 {
			id = args[0]
		} else {
			u, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("new person id: %w", err)
			}
			id = u.String()
		}
		pn, err := n.name()
		if err != nil {
			return err
		}
		c := &personv1.CreatePerson{Name: pn, Source: src}
		if birth != "" {
			if c.BirthDate, err = parseDate("--birth-date", birth); err != nil {
				return err
			}
		}
		for i, v := range emails {
			c.Contacts = append(c.Contacts, &personv1.ContactInput{Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: v, Primary: i == 0})
		}
		for i, v := range phones {
			c.Contacts = append(c.Contacts, &personv1.ContactInput{Kind: personv1.ContactKind_CONTACT_KIND_PHONE, Value: v, Primary: i == 0, DefaultRegion: region})
		}
		return execute(ctx, e, id, &personv1.Command{Body: &personv1.Command_CreatePerson{CreatePerson: c}})
	}
}

func bindRename(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var (
		n      nameFlags
		reason string
	)
	n.bind(fs)
	fs.StringVar(&reason, "reason", "", "why the name changes")
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 1, "a person id"); err != nil {
			return err
		}
		pn, err := n.name()
		if err != nil {
			return err
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: pn, Reason: reason}}})
	}
}

// dateCommand is a command with a person id and a date argument.
func dateCommand(mk func(*personv1.Date) *personv1.Command) func(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if err := wantArgs(args, 2, "a person id and a date YYYY-MM-DD"); err != nil {
				return err
			}
			d, err := parseDate("date", args[1])
			if err != nil {
				return err
			}
			return execute(ctx, e, args[0], mk(d))
		}
	}
}

// reasonCommand is a command with a person id and a --reason.
func reasonCommand(mk func(string) *personv1.Command) func(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		var reason string
		fs.StringVar(&reason, "reason", "", "why")
		return func(ctx context.Context, e *env, args []string) error {
			if err := wantArgs(args, 1, "a person id"); err != nil {
				return err
			}
			return execute(ctx, e, args[0], mk(reason))
		}
	}
}

func bindMerge(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var reason string
	fs.StringVar(&reason, "reason", "user-requested", "duplicate-identity, data-quality-issue, user-requested or policy-determined")
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 2, "a person id and the target person id"); err != nil {
			return err
		}
		r, err := parseEnum[personv1.MergeReason](reason, "MERGE_REASON_", personv1.MergeReason_value)
		if err != nil {
			return err
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_MergePersons{MergePersons: &personv1.MergePersons{TargetPersonId: args[1], Reason: r}}})
	}
}

// validityFlags are an attribute's validity and provenance flags.
type validityFlags struct {
	from, until, source, confidence, recordedBy string
}

func (v *validityFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&v.from, "valid-from", "", "first day the value holds, YYYY-MM-DD")
	fs.StringVar(&v.until, "valid-until", "", "last day the value holds, YYYY-MM-DD")
	fs.StringVar(&v.source, "source", "", "provenance: self-reported, measured, document-verified, computed or imported")
	fs.StringVar(&v.confidence, "confidence", "", "certain, likely, possible or uncertain")
	fs.StringVar(&v.recordedBy, "recorded-by", "", "who recorded the value")
}

func (v *validityFlags) validity() (*personv1.TemporalValidity, error) {
	if v.from == "" && v.until == "" {
		return nil, nil
	}
	t := &personv1.TemporalValidity{}
	var err error
	if v.from != "" {
		if t.ValidFrom, err = parseDate("--valid-from", v.from); err != nil {
			return nil, err
		}
	}
	if v.until != "" {
		if t.ValidUntil, err = parseDate("--valid-until", v.until); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (v *validityFlags) provenance() (*personv1.Provenance, error) {
	if v.source == "" && v.confidence == "" && v.recordedBy == "" {
		return nil, nil
	}
	p := &personv1.Provenance{RecordedBy: v.recordedBy}
	var err error
	if v.source != "" {
		if p.Source, err = parseEnum[personv1.ProvenanceSource](v.source, "PROVENANCE_SOURCE_", personv1.ProvenanceSource_value); err != nil {
			return nil, err
		}
	}
	if v.confidence != "" {
		if p.Confidence, err = parseEnum[personv1.Confidence](v.confidence, "CONFIDENCE_", personv1.Confidence_value); err != nil {
			return nil, err
		}
	}
	return p, nil
}

const valueHelp = `the value: JSON of an AttributeValue ('{"length":{"meters":1.82}}', '{"blood_type":"BLOOD_TYPE_O_NEGATIVE"}') or plain text ("AB123456")`

func bindAttributeAdd(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var (
		typ, value, attrID, org, customName, category string
		v                                             validityFlags
	)
	fs.StringVar(&typ, "type", "", "attribute type: height, weight, blood-type, national-id, birth-place, … or custom")
	fs.StringVar(&value, "value", "", valueHelp)
	fs.StringVar(&attrID, "attribute-id", "", "attribute id; default the command id")
	fs.StringVar(&org, "org", "", "custom attributes: the defining organisation")
	fs.StringVar(&customName, "custom-name", "", "custom attributes: the attribute's name")
	fs.StringVar(&category, "category", "custom", "custom attributes: identifying, physical, healthcare, demographic or custom")
	v.bind(fs)
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 1, "a person id"); err != nil {
			return err
		}
		if typ == "" || value == "" {
			return usagef("--type and --value are required")
		}
		t, err := parseEnum[personv1.AttributeType](typ, "ATTRIBUTE_TYPE_", personv1.AttributeType_value)
		if err != nil {
			return err
		}
		a := &personv1.Attribute{AttributeId: attrID, Type: t}
		if a.Value, err = parseValue(value); err != nil {
			return err
		}
		if t == personv1.AttributeType_ATTRIBUTE_TYPE_CUSTOM {
			cat, err := parseEnum[personv1.AttributeCategory](category, "ATTRIBUTE_CATEGORY_", personv1.AttributeCategory_value)
			if err != nil {
				return err
			}
			a.Custom = &personv1.CustomAttributeType{Organization: org, Name: customName, Category: cat}
		}
		if a.Validity, err = v.validity(); err != nil {
			return err
		}
		if a.Provenance, err = v.provenance(); err != nil {
			return err
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_RecordAttribute{RecordAttribute: &personv1.RecordAttribute{Attribute: a}}})
	}
}

func bindAttributeUpdate(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var (
		value string
		v     validityFlags
	)
	fs.StringVar(&value, "value", "", valueHelp)
	v.bind(fs)
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 2, "a person id and an attribute id"); err != nil {
			return err
		}
		if value == "" {
			return usagef("--value is required")
		}
		u := &personv1.UpdateAttribute{AttributeId: args[1]}
		var err error
		if u.Value, err = parseValue(value); err != nil {
			return err
		}
		if u.Validity, err = v.validity(); err != nil {
			return err
		}
		if u.Provenance, err = v.provenance(); err != nil {
			return err
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_UpdateAttribute{UpdateAttribute: u}})
	}
}

func bindAttributeInvalidate(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var reason, until string
	fs.StringVar(&reason, "reason", "", "why the value no longer holds")
	fs.StringVar(&until, "valid-until", "", "last day the value held, YYYY-MM-DD (default today)")
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 2, "a person id and an attribute id"); err != nil {
			return err
		}
		inv := &personv1.InvalidateAttribute{AttributeId: args[1], Reason: reason}
		if until != "" {
			var err error
			if inv.ValidUntil, err = parseDate("--valid-until", until); err != nil {
				return err
			}
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_InvalidateAttribute{InvalidateAttribute: inv}})
	}
}

func bindContactAdd(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var (
		email, phone, label, region, contactID string
		primary                                bool
	)
	fs.StringVar(&email, "email", "", "an email address")
	fs.StringVar(&phone, "phone", "", "a phone number")
	fs.BoolVar(&primary, "primary", false, "make it the primary contact of its kind")
	fs.StringVar(&label, "label", "", `free text such as "work"`)
	fs.StringVar(&region, "region", "", `ISO 3166 region of a phone number without +country, e.g. "GB"`)
	fs.StringVar(&contactID, "contact-id", "", "contact id; default the command id")
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 1, "a person id"); err != nil {
			return err
		}
		in := &personv1.ContactInput{Primary: primary, Label: label, DefaultRegion: region, ContactId: contactID}
		switch {
		case (email == "") == (phone == ""):
			return usagef("give exactly one of --email and --phone")
		case email != "":
			in.Kind, in.Value = personv1.ContactKind_CONTACT_KIND_EMAIL, email
		default:
			in.Kind, in.Value = personv1.ContactKind_CONTACT_KIND_PHONE, phone
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_AddContact{AddContact: &personv1.AddContact{Contact: in}}})
	}
}

func bindContactRemove(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var reason string
	fs.StringVar(&reason, "reason", "", "why")
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 2, "a person id and a contact id"); err != nil {
			return err
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_RemoveContact{RemoveContact: &personv1.RemoveContact{ContactId: args[1], Reason: reason}}})
	}
}

func bindContactVerify(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 2, "a person id and a contact id"); err != nil {
			return err
		}
		return execute(ctx, e, args[0], &personv1.Command{Body: &personv1.Command_VerifyContact{VerifyContact: &personv1.VerifyContact{ContactId: args[1]}}})
	}
}

// parseDate reads YYYY-MM-DD.
func parseDate(what, s string) (*personv1.Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, usagef("%s %q: want YYYY-MM-DD", what, s)
	}
	return &personv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}, nil
}

// parseEnum reads an enum value by its short name ("blood-type",
// "BLOOD_TYPE") or full name ("ATTRIBUTE_TYPE_BLOOD_TYPE").
func parseEnum[E ~int32](s, prefix string, values map[string]int32) (E, error) {
	key := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if v, ok := values[key]; ok {
		return E(v), nil
	}
	if v, ok := values[prefix+key]; ok && key != "UNSPECIFIED" {
		return E(v), nil
	}
	var names []string
	for n := range values {
		if short := strings.TrimPrefix(n, prefix); short != "UNSPECIFIED" {
			names = append(names, strings.ToLower(strings.ReplaceAll(short, "_", "-")))
		}
	}
	return 0, usagef("%q is not one of %s", s, strings.Join(sortStrings(names), ", "))
}

// parseValue reads an AttributeValue: protojson when it starts with '{',
// else text.
func parseValue(s string) (*personv1.AttributeValue, error) {
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return &personv1.AttributeValue{Value: &personv1.AttributeValue_Text{Text: s}}, nil
	}
	var v personv1.AttributeValue
	if err := protojson.Unmarshal([]byte(s), &v); err != nil {
		return nil, usagef("--value is not an AttributeValue: %v", err)
	}
	return &v, nil
}
