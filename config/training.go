package config

import "github.com/ceremony-dev/ceremony/pki"

// CheckTrainingSubject: a training ceremony marks its CA with
// O=TRAINING - NOT FOR PRODUCTION, so its subject may name no other
// organization (pki refuses one rather than change it).
func CheckTrainingSubject(field, subject string) error {
	name, err := pki.ParseSubject(subject)
	if err != nil || len(name.Organization) == 0 || name.Organization[0] == pki.TrainingOrganization {
		return nil // CheckSubject reports a subject that does not parse
	}
	return fieldErr(field, "a training ceremony's O is %q; remove O=%s", pki.TrainingOrganization, name.Organization[0])
}
