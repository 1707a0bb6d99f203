package contact_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cim/personrt/actors/person/contact"
	"github.com/cim/personrt/messages/personv1"
)

const (
	email = personv1.ContactKind_CONTACT_KIND_EMAIL
	phone = personv1.ContactKind_CONTACT_KIND_PHONE
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name     string
		kind     personv1.ContactKind
		value    string
		region   string
		want     string
		wantRule string
	}{
		{name: "email", kind: email, value: "jane@example.com", want: "jane@example.com"},
		{name: "email domain lower-cased", kind: email, value: " Jane.Doe@Example.COM ", want: "Jane.Doe@example.com"},
		{name: "email plus tag", kind: email, value: "a+tag@sub.example.org", want: "a+tag@sub.example.org"},
		{name: "email unicode domain", kind: email, value: "jürgen@bücher.de", want: "jürgen@bücher.de"},
		{name: "email display name", kind: email, value: "Jane Doe <jane@example.com>", wantRule: contact.RuleEmailNotBare},
		{name: "email angle brackets", kind: email, value: "<jane@example.com>", wantRule: contact.RuleEmailNotBare},
		{name: "email quoted local part", kind: email, value: `"john doe"@example.com`, wantRule: contact.RuleEmailNotBare},
		{name: "email no at", kind: email, value: "jane.example.com", wantRule: contact.RuleEmailInvalid},
		{name: "email two ats", kind: email, value: "a@b@example.com", wantRule: contact.RuleEmailInvalid},
		{name: "email list", kind: email, value: "a@example.com, b@example.com", wantRule: contact.RuleEmailInvalid},
		{name: "email no dot in domain", kind: email, value: "root@localhost", wantRule: contact.RuleEmailDomain},
		{name: "email trailing dot", kind: email, value: "a@example.com.", wantRule: contact.RuleEmailInvalid},
		{name: "email blank", kind: email, value: "  ", wantRule: contact.RuleValueRequired},
		{name: "email too long", kind: email, value: strings.Repeat("a", 250) + "@example.com", wantRule: contact.RuleTooLong},
		{name: "phone E.164 kept", kind: phone, value: "+16502530000", want: "+16502530000"},
		{name: "phone US national", kind: phone, value: "(650) 253-0000", region: "US", want: "+16502530000"},
		{name: "phone region lower-case", kind: phone, value: "650 253 0000", region: "us", want: "+16502530000"},
		{name: "phone UK national", kind: phone, value: "020 7946 0018", region: "GB", want: "+442079460018"},
		{name: "phone international with other region", kind: phone, value: "+44 20 7946 0018", region: "US", want: "+442079460018"},
		{name: "phone German mobile", kind: phone, value: "0151 23456789", region: "DE", want: "+4915123456789"},
		{name: "phone 00 prefix", kind: phone, value: "0044 20 7946 0018", region: "DE", want: "+442079460018"},
		{name: "phone national without region", kind: phone, value: "650 253 0000", wantRule: contact.RulePhoneRegion},
		{name: "phone unknown region", kind: phone, value: "650 253 0000", region: "XX", wantRule: contact.RulePhoneRegion},
		{name: "phone letters", kind: phone, value: "call me", region: "US", wantRule: contact.RulePhoneInvalid},
		{name: "phone too short", kind: phone, value: "12", region: "US", wantRule: contact.RulePhoneInvalid},
		{name: "phone invalid for region", kind: phone, value: "+1 000 000 0000", wantRule: contact.RulePhoneInvalid},
		{name: "phone extension", kind: phone, value: "+1 650 253 0000 ext. 123", wantRule: contact.RulePhoneExtension},
		{name: "phone blank", kind: phone, value: "", wantRule: contact.RuleValueRequired},
		{name: "phone too long", kind: phone, value: strings.Repeat("1", contact.MaxValueLen+1), wantRule: contact.RuleTooLong},
		{name: "unspecified kind", kind: personv1.ContactKind_CONTACT_KIND_UNSPECIFIED, value: "x", wantRule: contact.RuleKind},
		{name: "unknown kind", kind: 9, value: "x", wantRule: contact.RuleKind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contact.Normalize(tc.kind, tc.value, tc.region)
			if tc.wantRule != "" {
				assertRule(t, err, tc.wantRule)
				return
			}
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if got != tc.want {
				t.Errorf("Normalize = %q, want %q", got, tc.want)
			}
			again, err := contact.Normalize(tc.kind, got, "")
			if err != nil || again != got {
				t.Errorf("Normalize is not idempotent: %q → %q, %v", got, again, err)
			}
		})
	}
}

func assertRule(t *testing.T, err error, wantRule string) {
	t.Helper()
	var e *personv1.Error
	if !errors.Is(err, personv1.ErrInvalidArgument) || !errors.As(err, &e) || e.GetRule() != wantRule {
		t.Fatalf("err = %v, want INVALID_ARGUMENT [%s]", err, wantRule)
	}
}

func TestValidateLabel(t *testing.T) {
	if err := contact.ValidateLabel("work"); err != nil {
		t.Errorf("ValidateLabel(work) = %v", err)
	}
	assertRule(t, contact.ValidateLabel("a\tb"), contact.RuleLabelInvalid)
	assertRule(t, contact.ValidateLabel(strings.Repeat("x", contact.MaxLabelLen+1)), contact.RuleTooLong)
}

func TestSameValue(t *testing.T) {
	if !contact.SameValue(email, "Jane@example.com", "jane@EXAMPLE.com") {
		t.Error("emails differing in case are different contacts")
	}
	if contact.SameValue(phone, "+16502530000", "+16502530001") || !contact.SameValue(phone, "+16502530000", "+16502530000") {
		t.Error("phone comparison wrong")
	}
}

func ExampleNormalize() {
	v, err := contact.Normalize(personv1.ContactKind_CONTACT_KIND_PHONE, "(650) 253-0000", "US")
	fmt.Println(v, err)
	_, err = contact.Normalize(personv1.ContactKind_CONTACT_KIND_EMAIL, "Jane <jane@example.com>", "")
	fmt.Println(err)
	// Output:
	// +16502530000 <nil>
	// INVALID_ARGUMENT [contact.email_not_bare]: "Jane <jane@example.com>" is not a bare address; give only "jane@example.com"
}
