package contact

import (
	"errors"
	"net/mail"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/cim/personrt/messages/personv1"
)

// Rule names of the errors returned by this package.
const (
	RuleKind           = "contact.kind_required"         // kind unspecified or unknown
	RuleValueRequired  = "contact.value_required"        // blank value
	RuleTooLong        = "contact.too_long"              // value or label over its limit
	RuleEmailInvalid   = "contact.email_invalid"         // not an addr-spec net/mail accepts
	RuleEmailNotBare   = "contact.email_not_bare"        // display name or angle brackets
	RuleEmailDomain    = "contact.email_domain"          // domain without a dot
	RulePhoneInvalid   = "contact.phone_invalid"         // unparsable or not a valid number
	RulePhoneRegion    = "contact.phone_region_required" // national number without a usable region
	RulePhoneExtension = "contact.phone_extension"       // extensions are not stored
	RuleLabelInvalid   = "contact.label_invalid"         // label with control characters
)

// Limits on contact input.
const (
	MaxValueLen = 254 // bytes of an email (RFC 5321 path limit) or phone input
	MaxLabelLen = 64  // bytes of a label
)

func reject(rule, format string, args ...any) *personv1.Error {
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, rule, format, args...)
}

// Normalize validates value as a contact of kind and returns its stored
// form. defaultRegion is used for phone numbers written without +country.
func Normalize(kind personv1.ContactKind, value, defaultRegion string) (string, error) {
	switch kind {
	case personv1.ContactKind_CONTACT_KIND_EMAIL:
		return NormalizeEmail(value)
	case personv1.ContactKind_CONTACT_KIND_PHONE:
		return NormalizePhone(value, defaultRegion)
	default:
		return "", reject(RuleKind, "contact kind %s is not email or phone", kind)
	}
}

// NormalizeEmail returns the address with its domain lower-cased, or an
// error when s is not a bare email address.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", reject(RuleValueRequired, "the email address is blank")
	}
	if len(s) > MaxValueLen {
		return "", reject(RuleTooLong, "the email address has %d bytes, at most %d allowed", len(s), MaxValueLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", reject(RuleEmailInvalid, "%q is not an email address: %v", s, err)
	}
	if a.Name != "" || a.Address != s {
		return "", reject(RuleEmailNotBare, "%q is not a bare address; give only %q", s, a.Address)
	}
	at := strings.LastIndexByte(a.Address, '@')
	local, domain := a.Address[:at], strings.ToLower(a.Address[at+1:])
	if !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, "[") {
		return "", reject(RuleEmailDomain, "the domain %q of %q is not a public domain name", domain, s)
	}
	return local + "@" + domain, nil
}

// NormalizePhone parses s (with defaultRegion for national numbers) and
// returns it in E.164.
func NormalizePhone(s, defaultRegion string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", reject(RuleValueRequired, "the phone number is blank")
	}
	if len(s) > MaxValueLen {
		return "", reject(RuleTooLong, "the phone number has %d bytes, at most %d allowed", len(s), MaxValueLen)
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region != "" && !phonenumbers.GetSupportedRegions()[region] {
		return "", reject(RulePhoneRegion, "%q is not a supported ISO 3166 region", defaultRegion)
	}
	num, err := phonenumbers.Parse(s, region)
	if errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
		return "", reject(RulePhoneRegion, "%q has no valid +country code and no default region applies", s)
	}
	if err != nil {
		return "", reject(RulePhoneInvalid, "%q is not a phone number: %v", s, err)
	}
	if num.GetExtension() != "" {
		return "", reject(RulePhoneExtension, "%q has an extension; store the number without it", s)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", reject(RulePhoneInvalid, "%q is not a valid number for its region", s)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// ValidateLabel checks a contact label: at most [MaxLabelLen] bytes, no
// control characters.
func ValidateLabel(label string) error {
	if len(label) > MaxLabelLen {
		return reject(RuleTooLong, "the label has %d bytes, at most %d allowed", len(label), MaxLabelLen)
	}
	for _, r := range label {
		if r < 0x20 || r == 0x7f {
			return reject(RuleLabelInvalid, "the label contains the control character %U", r)
		}
	}
	return nil
}

// SameValue reports whether two stored values of kind are the same contact:
// emails compare ignoring case, phones (E.164) exactly.
func SameValue(kind personv1.ContactKind, a, b string) bool {
	if kind == personv1.ContactKind_CONTACT_KIND_EMAIL {
		return strings.EqualFold(a, b)
	}
	return a == b
}
