// Package attribute holds the rules of EAV person attributes
// ([personv1.Attribute]): which category each [personv1.AttributeType]
// belongs to, which value kinds it accepts (a height is a [KindLength],
// never text), the bounds of those values, temporal validity and
// provenance.
//
// # The type table
//
// [Specs] lists, for every attribute type, its category and the value kinds
// it accepts; [Validate] enforces it. Custom attributes
// (ATTRIBUTE_TYPE_CUSTOM) carry their own organisation, name and category
// and accept any value kind, including JSON, which no other type accepts.
//
// # Temporal validity
//
// valid_from and valid_until are both inclusive and both optional (an open
// bound). [ValidOn] answers "did this attribute hold on that date".
//
// Every error is a *personv1.Error with code INVALID_ARGUMENT and one of
// the Rule constants.
package attribute
