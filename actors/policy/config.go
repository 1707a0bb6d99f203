package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cim/personrt/messages/personv1"
)

// ErrInvalidConfig is returned by [New] for a Config that breaks a rule.
var ErrInvalidConfig = errors.New("policy: invalid config")

// Defaults applied by [New] to zero Config fields.
const (
	DefaultArchiveAfter        = 365 * 24 * time.Hour
	DefaultNotificationSubject = "person.notifications.welcome"
	DefaultOnboardingStep      = 7 * 24 * time.Hour
)

// Config configures the policies. The zero value means the defaults.
type Config struct {
	// ArchiveAfter is the inactivity after which AutoArchive archives a
	// person. Default DefaultArchiveAfter (365 days).
	ArchiveAfter time.Duration
	// OnboardingDeadlines are the per-state timeouts StartOnboarding
	// carries. Nil means DefaultOnboardingStep for every non-terminal state
	// from AwaitingIdentityVerification on; an empty non-nil map means none.
	OnboardingDeadlines map[personv1.OnboardingState]time.Duration
	// DefaultRegion (ISO 3166, "US") is used by DataQuality to normalise
	// stored phone numbers written without +country. Empty: such numbers
	// cannot be normalised and are flagged.
	DefaultRegion string
	// NotificationSubject is the subject prefix of welcome notifications.
	// Default DefaultNotificationSubject.
	NotificationSubject string
}

func (c *Config) validate() error {
	if c.ArchiveAfter == 0 {
		c.ArchiveAfter = DefaultArchiveAfter
	}
	if c.NotificationSubject == "" {
		c.NotificationSubject = DefaultNotificationSubject
	}
	if c.OnboardingDeadlines == nil {
		c.OnboardingDeadlines = make(map[personv1.OnboardingState]time.Duration)
		for st := personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION; st <= personv1.OnboardingState_ONBOARDING_STATE_FINALIZING; st++ {
			c.OnboardingDeadlines[st] = DefaultOnboardingStep
		}
	}
	switch {
	case c.ArchiveAfter < time.Second:
		return fmt.Errorf("%w: rule config.archive_after: %v is below 1s", ErrInvalidConfig, c.ArchiveAfter)
	case strings.ContainsAny(c.NotificationSubject, " *>\t") || strings.HasSuffix(c.NotificationSubject, "."):
		return fmt.Errorf("%w: rule config.notification_subject: %q is not a literal subject", ErrInvalidConfig, c.NotificationSubject)
	}
	for st, d := range c.OnboardingDeadlines {
		if st <= personv1.OnboardingState_ONBOARDING_STATE_STARTED || st >= personv1.OnboardingState_ONBOARDING_STATE_COMPLETED || d <= 0 {
			return fmt.Errorf("%w: rule config.onboarding_deadlines: %v for %s (want a positive timeout of a non-terminal started state)", ErrInvalidConfig, d, st)
		}
	}
	return nil
}

// stepDeadlines returns the configured deadlines as StartOnboarding carries
// them, in state order.
func (c *Config) stepDeadlines() []*personv1.StepDeadline {
	var out []*personv1.StepDeadline
	for st := personv1.OnboardingState_ONBOARDING_STATE_AWAITING_IDENTITY_VERIFICATION; st < personv1.OnboardingState_ONBOARDING_STATE_COMPLETED; st++ {
		if d, ok := c.OnboardingDeadlines[st]; ok {
			out = append(out, &personv1.StepDeadline{State: st, Timeout: durationpb.New(d)})
		}
	}
	return out
}
