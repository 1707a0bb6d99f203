// Package contact validates and normalises the contact values of a person:
// email addresses and phone numbers ([personv1.ContactKind]).
//
// # Email
//
// An address must be a bare addr-spec that net/mail parses to itself:
// display-name forms ("Jane <jane@example.com>") and angle brackets are
// rejected rather than silently stripped, and the domain must contain a dot.
// The domain is lower-cased; the local part is kept as written. Two emails
// are the same contact when they are equal ignoring case ([SameValue]).
//
// # Phone
//
// Numbers are parsed with github.com/nyaruka/phonenumbers (a port of
// Google's libphonenumber), must be valid for their region and are stored in
// E.164 ("+16502530000"). A number without a leading + needs a default
// region (ISO 3166 alpha-2, "US"). Extensions are rejected: E.164 cannot
// hold them.
//
// Every error is a *personv1.Error with code INVALID_ARGUMENT and one of the
// Rule constants.
package contact
