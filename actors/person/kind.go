package person

import (
	"strconv"

	"github.com/cim/personrt/messages/personv1"
)

// Kind is the kind of a command: which case of the Command body is set.
// Kinds index the lifecycle table ([LifecycleMachine]).
type Kind uint8

// The command kinds, one per case of [personv1.Command] body.
const (
	KindCreatePerson Kind = iota
	KindUpdateName
	KindSetBirthDate
	KindRecordDeath
	KindDeactivatePerson
	KindReactivatePerson
	KindMergePersons
	KindArchivePerson
	KindRecordAttribute
	KindUpdateAttribute
	KindInvalidateAttribute
	KindAddContact
	KindRemoveContact
	KindVerifyContact
	KindRecordMergeReceived
	KindNormalizeContact
	KindFlagDataQuality
	numKinds
)

// kindNames are the protobuf message names of the bodies, as returned by
// (*personv1.Command).TypeName.
var kindNames = [numKinds]string{
	"CreatePerson", "UpdateName", "SetBirthDate", "RecordDeath", "DeactivatePerson", "ReactivatePerson",
	"MergePersons", "ArchivePerson", "RecordAttribute", "UpdateAttribute", "InvalidateAttribute",
	"AddContact", "RemoveContact", "VerifyContact", "RecordMergeReceived", "NormalizeContact", "FlagDataQuality",
}

// String returns the message name of the command body ("UpdateName").
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Kinds returns every command kind in value order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// KindOf returns the kind of cmd's body; false when no body is set.
func KindOf(cmd *personv1.Command) (Kind, bool) {
	switch cmd.GetBody().(type) {
	case *personv1.Command_CreatePerson:
		return KindCreatePerson, true
	case *personv1.Command_UpdateName:
		return KindUpdateName, true
	case *personv1.Command_SetBirthDate:
		return KindSetBirthDate, true
	case *personv1.Command_RecordDeath:
		return KindRecordDeath, true
	case *personv1.Command_DeactivatePerson:
		return KindDeactivatePerson, true
	case *personv1.Command_ReactivatePerson:
		return KindReactivatePerson, true
	case *personv1.Command_MergePersons:
		return KindMergePersons, true
	case *personv1.Command_ArchivePerson:
		return KindArchivePerson, true
	case *personv1.Command_RecordAttribute:
		return KindRecordAttribute, true
	case *personv1.Command_UpdateAttribute:
		return KindUpdateAttribute, true
	case *personv1.Command_InvalidateAttribute:
		return KindInvalidateAttribute, true
	case *personv1.Command_AddContact:
		return KindAddContact, true
	case *personv1.Command_RemoveContact:
		return KindRemoveContact, true
	case *personv1.Command_VerifyContact:
		return KindVerifyContact, true
	case *personv1.Command_RecordMergeReceived:
		return KindRecordMergeReceived, true
	case *personv1.Command_NormalizeContact:
		return KindNormalizeContact, true
	case *personv1.Command_FlagDataQuality:
		return KindFlagDataQuality, true
	default:
		return 0, false
	}
}
